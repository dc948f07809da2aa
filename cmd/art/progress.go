package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/artvcs/art/repo"
)

// progress returns a repo.ProgressFunc that draws a byte progress bar
// (done, total, rate) on stderr, and a function to call when the operation
// ends, which clears the bar. There is no bar when stderr is not a terminal
// or output is quiet or JSON, and none until the operation has run for
// a.progressDelay, so quick operations print nothing extra.
func (a *app) progress(desc string) (repo.ProgressFunc, func()) {
	if a.global.quiet || a.global.json || a.stderrIsTerminal == nil || !a.stderrIsTerminal() {
		return nil, func() {}
	}
	p := &progress{w: a.stderr, desc: desc, start: time.Now(), delay: a.progressDelay}
	return p.update, p.finish
}

// progress is a progress bar started by the first update and drawn once
// its delay has passed (it counts from the start, so its rate is right).
// Its methods are safe for concurrent use, as repo calls the ProgressFunc
// from several goroutines.
type progress struct {
	w     io.Writer
	desc  string
	start time.Time
	delay time.Duration

	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	done  int64 // the most done reported: calls may arrive out of order
	total int64
	ended bool
}

func (p *progress) update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return
	}
	if done > p.done {
		p.done = done
	}
	if p.bar == nil {
		p.total = total
		p.bar = progressbar.NewOptions64(barMax(total),
			progressbar.OptionSetWriter(&delayedWriter{w: p.w, from: p.start.Add(p.delay)}),
			progressbar.OptionSetDescription(p.desc),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionClearOnFinish(),
		)
	} else if total != p.total {
		p.total = total
		p.bar.ChangeMax64(barMax(total))
	}
	_ = p.bar.Set64(p.done) // errors only say the bar is full or gone
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ended = true
	if p.bar != nil {
		_ = p.bar.Finish()
		_ = p.bar.Clear()
	}
}

// barMax is the bar's maximum for total bytes: -1 (a spinner) if unknown.
func barMax(total int64) int64 {
	if total <= 0 {
		return -1
	}
	return total
}

// delayedWriter discards what is written to it before from, so a bar on a
// quick operation never shows.
type delayedWriter struct {
	w    io.Writer
	from time.Time
}

func (d *delayedWriter) Write(b []byte) (int, error) {
	if time.Now().Before(d.from) {
		return len(b), nil
	}
	return d.w.Write(b)
}

// transferProgress returns a repo.TransferProgress that draws, on stderr,
// the objects and bytes a push or pull has moved and its rate (the total
// is not known in advance), and a function that clears it. Like progress,
// it draws nothing off a terminal, when quiet or JSON, or before
// a.progressDelay.
func (a *app) transferProgress(desc string) (repo.TransferProgress, func()) {
	if a.global.quiet || a.global.json || a.stderrIsTerminal == nil || !a.stderrIsTerminal() {
		return nil, func() {}
	}
	p := &progress{w: a.stderr, desc: desc, start: time.Now(), delay: a.progressDelay}
	var mu sync.Mutex
	var most int64
	update := func(objects, bytes int64) {
		mu.Lock()
		if objects > most {
			most = objects
			p.desc = fmt.Sprintf("%s (%d objects)", desc, objects)
			if p.bar != nil {
				p.bar.Describe(p.desc)
			}
		}
		mu.Unlock()
		p.update(bytes, -1)
	}
	return update, p.finish
}
