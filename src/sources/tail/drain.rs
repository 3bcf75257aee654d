//! Finishing old files: a copytruncate copy or a truncation in place, and draining files left
//! behind by a rotation (read to their end, closed once quiet). Also [`emit`], which sends lines
//! and counts them.

use super::follower::Follower;
use super::identity::find_sibling;
use super::open_file::{OpenFile, Read, Start};
use super::pass::{emit, Ctx, Stopped};

impl Follower {
    /// The current file was truncated: finish its copy if there is one, else count the loss.
    pub(super) fn truncated(&mut self, ctx: &mut Ctx, size: u64) {
        let exclude: Vec<(u64, u64)> = self.open_inodes().collect();
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        let copy =
            find_sibling(&self.path, &cur.id, false, &exclude).and_then(|(file, meta, _)| {
                OpenFile::new(file, &meta, cur.path.clone(), Start::At(0)).ok()
            });
        let mut health = ctx.health.files.lock();
        let h = &mut health[self.health];
        match copy {
            Some(mut copy) => {
                std::mem::swap(&mut copy.asm, &mut cur.asm);
                if let Err(e) = cur.rewind() {
                    h.last_error = Some(e.to_string());
                }
                ctx.reg.opened(&copy, false);
                ctx.reg.opened(cur, false);
                self.draining.push(copy);
                h.rotations += 1;
            }
            None => match cur.restart_after_truncation(size) {
                Ok(lost) => h.truncated_bytes_lost += lost,
                Err(e) => h.last_error = Some(e.to_string()),
            },
        }
    }

    /// Reads every draining file to its end; closes those quiet for `rotate_wait` (or all, in
    /// one-shot mode), flushing their last partial line.
    pub(super) fn drain(&mut self, ctx: &mut Ctx) -> Result<(), Stopped> {
        let mut i = 0;
        while i < self.draining.len() {
            let mut done = false;
            loop {
                match self.draining[i].read(ctx.settings.max_line) {
                    Ok(Read::Lines(lines)) => emit(
                        ctx,
                        self.health,
                        &self.source,
                        Some(&self.draining[i]),
                        lines,
                        false,
                    )?,
                    Ok(Read::Eof) => break,
                    Ok(Read::Truncated { size }) => {
                        // Truncated after it left the path: go on from where it now starts.
                        match self.draining[i].restart_after_truncation(size) {
                            Ok(lost) => {
                                ctx.health.files.lock()[self.health].truncated_bytes_lost += lost;
                                ctx.reg.opened(&self.draining[i], false);
                            }
                            Err(_) => {
                                done = true;
                                break;
                            }
                        }
                    }
                    Err(_) => {
                        done = true;
                        break;
                    }
                }
            }
            let f = &self.draining[i];
            let quiet = ctx.now >= f.last_growth + ctx.settings.rotate_wait;
            if done || quiet || ctx.settings.exit_at_eof {
                let mut f = self.draining.remove(i);
                let lines = f.asm.flush();
                emit(ctx, self.health, &self.source, Some(&f), lines, false)?;
                ctx.reg.closed(&f);
            } else {
                let flush = ctx.settings.partial_flush;
                let f = &mut self.draining[i];
                if f.asm.partial_since().is_some_and(|t| ctx.now >= t + flush) {
                    let lines = f.asm.flush();
                    emit(
                        ctx,
                        self.health,
                        &self.source,
                        Some(&self.draining[i]),
                        lines,
                        false,
                    )?;
                }
                i += 1;
            }
        }
        Ok(())
    }
}
