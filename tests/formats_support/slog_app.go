// A small Go program that logs with slog's TextHandler (golang.org/x/exp/slog, the
// precursor of Go 1.21's log/slog, with the same text output), for tests/formats.rs.
//
// It reads one batch per stdin line, "LATENCY_MS HIT MODEL", and logs each as an INFO
// record with a duration, a boolean, a string, a running batch number and a group (`req`);
// then a DEBUG record, a record between INFO and WARN (`INFO+2`), a WARN record with a
// gauge-like number, an ERROR record with an error and one above ERROR (`ERROR+4`). Every
// record carries its `source` (file:line). Built in GOPATH mode against Debian's
// golang-golang-x-exp-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o OUT slog_app.go
package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/exp/slog"
)

func main() {
	opts := slog.HandlerOptions{Level: slog.DebugLevel, AddSource: true}
	log := slog.New(opts.NewTextHandler(os.Stdout))
	in := bufio.NewScanner(os.Stdin)
	batch := 0
	for in.Scan() {
		var ms float64
		var hit bool
		var model string
		if _, err := fmt.Sscanf(in.Text(), "%g %t %s", &ms, &hit, &model); err != nil {
			fmt.Fprintln(os.Stderr, "bad input line:", in.Text())
			os.Exit(2)
		}
		batch++
		log.Info("batch done",
			"model", model,
			"latency", time.Duration(ms*float64(time.Millisecond)),
			"hit", hit,
			"batch", batch,
			slog.Group("req", slog.String("method", "POST"), slog.Int("status", 200)))
	}
	log.Debug("cache stats", "entries", 12)
	log.Log(slog.InfoLevel+2, "between info and warn", "entries", 12)
	log.Warn("queue is deep", "depth", 97)
	log.Error("upstream failed", errors.New("connection refused"), "model", "a")
	log.Log(slog.ErrorLevel+4, "giving up")
}
