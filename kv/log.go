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
// On a backend with an IndexReader (Redis) the page takes one round trip;
// without one it reads the counter, then each entry.
func (l Log) Newest(before int64, limit int) ([][]byte, int64, error) {
	if r := l.B.indexReader(); r != nil {
		return l.newestBatched(r, before, limit)
	}
	return l.newestByKey(before, limit)
}

// newestByKey is Newest one key at a time.
func (l Log) newestByKey(before int64, limit int) ([][]byte, int64, error) {
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
	return out, newestCursor(n), nil
}

func newestCursor(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return n + 1
}

// newestBatched is newestByKey with the entries fetched by an IndexReader:
// the same numbers in the same order, a missing entry skipped.
func (l Log) newestBatched(r IndexReader, before int64, limit int) ([][]byte, int64, error) {
	maxProbes := 4 * int64(limit)
	from := before
	if from < 0 {
		from = 0
	}
	counter := l.Prefix + "/n"
	page, err := r.ReadIndex(IndexQuery{Counter: counter, Entry: l.Prefix + "/", Desc: true,
		From: from, Probes: maxProbes, Want: int64(limit)})
	if err != nil {
		return nil, 0, err
	}
	last, err := counterValue(counter, page.Counter)
	if err != nil {
		return nil, 0, err
	}
	n := last // the next number to probe, as in newestByKey
	if before > 0 && before-1 < n {
		n = before - 1
	}
	out := make([][]byte, 0, limit)
	probes := int64(0)
	for {
		if err := checkPage(page, n+1, true); err != nil {
			return nil, 0, err
		}
		i := 0
		for n >= page.Scanned && n > 0 && len(out) < limit {
			if i < len(page.Entries) && page.Entries[i].N == n {
				out = append(out, page.Entries[i].Value)
				i++
			}
			n--
			probes++
		}
		if n <= 0 || len(out) >= limit || probes >= maxProbes {
			break
		}
		page, err = r.ReadIndex(IndexQuery{Last: last, Entry: l.Prefix + "/", Desc: true,
			From: n + 1, Probes: maxProbes - probes, Want: int64(limit - len(out))})
		if err != nil {
			return nil, 0, err
		}
		if page.Scanned == n+1 {
			return nil, 0, errIndexReader // no progress
		}
	}
	return out, newestCursor(n), nil
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
