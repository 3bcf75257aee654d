fn main() {
    println!("kpid");
}
