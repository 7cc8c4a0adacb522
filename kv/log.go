package kv

import (
	"errors"
	"strconv"
)

// Log is an append-only numbered sequence of JSON documents (revisions,
// audit events). Keys: P/n (last number, atomic counter) and P/<N>.
// Numbers come from the counter, so concurrent appends never collide.
type Log struct {
	B      Backend
	Prefix string
}

func (l Log) key(n int64) string { return l.Prefix + "/" + strconv.FormatInt(n, 10) }

// Append stores doc under the next number and returns that number. mk
// receives the number so the document can carry it.
func (l Log) Append(mk func(n int64) []byte) (int64, error) {
	n, err := l.B.IncrBy(l.Prefix+"/n", 1)
	if err != nil {
		return 0, err
	}
	return n, l.B.Set(l.key(n), mk(n))
}

// Get returns entry n or ErrNotFound.
func (l Log) Get(n int64) ([]byte, error) { return l.B.Get(l.key(n)) }

// Set replaces entry n (state changes of a revision).
func (l Log) Set(n int64, doc []byte) error { return l.B.Set(l.key(n), doc) }

// Last returns the highest number handed out (0 when empty).
func (l Log) Last() (int64, error) { return readCounter(l.B, l.Prefix+"/n") }

// Newest returns up to limit entries, newest first, with numbers below
// before (0 means from the newest), and the cursor for the next page (0 at the end).
func (l Log) Newest(before int64, limit int) ([][]byte, int64, error) {
	last, err := l.Last()
	if err != nil {
		return nil, 0, err
	}
	n := last
	if before > 0 && before-1 < n {
		n = before - 1
	}
	out := make([][]byte, 0, limit)
	for probes := 0; n > 0 && len(out) < limit && probes < 4*limit; probes++ {
		doc, err := l.Get(n)
		n--
		if errors.Is(err, ErrNotFound) {
			continue // number taken by a writer that failed before storing
		}
		if err != nil {
			return nil, 0, err
		}
		out = append(out, doc)
	}
	if n <= 0 {
		return out, 0, nil
	}
	return out, n + 1, nil
}

// DeleteAll removes every entry and the counter (deleting an app).
func (l Log) DeleteAll() error {
	last, err := l.Last()
	if err != nil {
		return err
	}
	for n := int64(1); n <= last; n++ {
		if err := l.B.Delete(l.key(n)); err != nil {
			return err
		}
	}
	return l.B.Delete(l.Prefix + "/n")
}
