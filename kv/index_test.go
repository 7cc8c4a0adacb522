package kv

import (
	"fmt"
	"strconv"
	gostrings "strings"
	"testing"
)

// Pure tests: they also run compiled by TinyGo (make test-tinygo).
//
// Collection.List and Log.Newest read a page with one IndexReader call
// when the backend has one (Memory natively, Redis with a script) and key
// by key when it has none (Spin's default store). These tests list the
// same data both ways, page by page from every cursor, and require the
// same pages: the index states races and removals leave behind included.

// byKey hides Memory's IndexReader: the backend Spin's default store gives.
func byKey(m *Memory) Backend {
	return Backend{Store: struct{ Store }{m}, Counter: struct{ Counter }{m}, Name: "by-key"}
}

// chunked is a reader that probes at most n numbers per call, so pages
// take several reads (the continuation path), and counts its calls.
type chunked struct {
	r     IndexReader
	n     int64
	calls int
}

func (c *chunked) ReadIndex(q IndexQuery) (IndexPage, error) {
	c.calls++
	if q.Probes > c.n {
		q.Probes = c.n
	}
	return c.r.ReadIndex(q)
}

func chunkedBackend(m *Memory, n int64) (Backend, *chunked) {
	c := &chunked{r: m, n: n}
	return Backend{Store: m, Counter: struct {
		Counter
		IndexReader
	}{m, c}, Name: "chunked"}, c
}

const testNow = 1_700_000_000

// collectionWorld fills P = "sp/test" with records and every index state
// a race or a removal leaves behind.
func collectionWorld(t *testing.T) *Memory {
	t.Helper()
	m := NewMemory()
	c := Collection{B: m.Backend(), Prefix: "sp/test", Now: func() int64 { return testNow }}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	doc := func(i int) []byte { return []byte(`{"i":` + strconv.Itoa(i) + `}`) }
	for i := 1; i <= 40; i++ {
		name := fmt.Sprintf("r%02d", i)
		must(c.Create(name, doc(i)))
		switch i % 10 {
		case 2: // deleted: record and slot gone
			must(c.Delete(name))
		case 3: // lost race: another slot claims the name the record carries
			seq, _ := m.IncrBy("sp/test/seq", 1)
			must(m.Set(c.slotKey(seq), []byte(name)))
		case 4: // a removal in progress: reads as absent
			st, err := c.read(name)
			must(err)
			must(m.Set(c.itemKey(name), marker(st.seq, testNow+60, st.doc)))
		case 5: // a removal whose remover died: reads as the record again
			st, err := c.read(name)
			must(err)
			must(m.Set(c.itemKey(name), marker(st.seq, testNow-60, st.doc)))
		case 6: // a creator between IncrBy and Set: number taken, no slot
			_, _ = m.IncrBy("sp/test/seq", 1)
		case 7: // a creator between Set and SetNX: slot, no record
			seq, _ := m.IncrBy("sp/test/seq", 1)
			must(m.Set(c.slotKey(seq), []byte(fmt.Sprintf("pending%02d", i))))
		case 8: // a record updated in place keeps its slot
			must(c.Update(name, doc(100+i)))
		case 9: // removed through Remove (marker, then slot deleted)
			must(c.Remove(name, testNow+60, func([]byte) error { return nil }))
		}
	}
	// A run of skipped slots longer than a small page's probe bound.
	for i := 0; i < 12; i++ {
		_, _ = m.IncrBy("sp/test/seq", 1)
	}
	must(c.Create("tail", doc(999)))
	return m
}

// page renders one List result for comparison.
func renderList(items []Item, next string, err error) string {
	var b gostrings.Builder
	for _, it := range items {
		b.WriteString(it.Name + "=" + string(it.Doc) + " ")
	}
	b.WriteString("next=" + next)
	if err != nil {
		b.WriteString(" err=" + err.Error())
	}
	return b.String()
}

func coll(b Backend) Collection {
	return Collection{B: b, Prefix: "sp/test", Now: func() int64 { return testNow }}
}

func TestListBatchedMatchesByKey(t *testing.T) {
	m := collectionWorld(t)
	last, _ := readInt(m, "sp/test/seq")
	chunkB, _ := chunkedBackend(m, 3)
	backends := map[string]Backend{"batched": m.Backend(), "chunked": chunkB}
	for _, limit := range []int{1, 2, 3, 5, 7, 50, 200} {
		for from := int64(0); from <= last+2; from++ {
			cursor := ""
			if from > 0 {
				cursor = strconv.FormatInt(from, 10)
			}
			want := renderList(coll(byKey(m)).List(cursor, limit))
			for name, b := range backends {
				if got := renderList(coll(b).List(cursor, limit)); got != want {
					t.Errorf("limit %d cursor %q: %s lists\n  %s\nby key:\n  %s", limit, cursor, name, got, want)
				}
			}
		}
	}
}

// Following the cursors lists every live record exactly once, both ways.
func TestListBatchedAllPages(t *testing.T) {
	m := collectionWorld(t)
	want := "r01 r03 r05 r06 r07 r08 r10 r11 r13 r15 r16 r17 r18 r20 r21 r23 r25 r26 r27 r28 r30 r31 r33 r35 r36 r37 r38 r40 tail"
	for _, b := range []Backend{byKey(m), m.Backend()} {
		for _, limit := range []int{1, 2, 4, 50} {
			var names []string
			cursor, pages := "", 0
			for {
				items, next, err := coll(b).List(cursor, limit)
				if err != nil {
					t.Fatal(err)
				}
				for _, it := range items {
					names = append(names, it.Name)
				}
				pages++
				if next == "" || pages > 1000 {
					break
				}
				cursor = next
			}
			if got := gostrings.Join(names, " "); got != want {
				t.Errorf("%s, limit %d: lists %s, want %s", b.Name, limit, got, want)
			}
		}
	}
}

// A clean page is one operation with a reader, 1 + 2 per record without.
func TestListRoundTrips(t *testing.T) {
	m := NewMemory()
	c := coll(m.Backend())
	for i := 0; i < 120; i++ {
		if err := c.Create(fmt.Sprintf("app-%03d", i), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		b    Backend
		want int64
	}{{m.Backend(), 1}, {byKey(m), 101}} {
		before := m.OpCount()
		items, next, err := coll(tc.b).List("", 50)
		if ops := m.OpCount() - before; err != nil || len(items) != 50 || next != "50" || ops != tc.want {
			t.Errorf("%s: %d items, next %q, %v, %d operations, want 50, \"50\", %d", tc.b.Name, len(items), next, err, ops, tc.want)
		}
	}
	// Skipped records cost one more read, not one per record.
	if err := c.Delete("app-010"); err != nil {
		t.Fatal(err)
	}
	st, _ := c.read("app-020")
	if err := m.Set(c.itemKey("app-020"), marker(st.seq, testNow+60, st.doc)); err != nil {
		t.Fatal(err)
	}
	before := m.OpCount()
	items, next, err := c.List("", 50)
	if ops := m.OpCount() - before; err != nil || len(items) != 50 || next != "52" || ops != 2 {
		t.Errorf("with a marker: %d items, next %q, %v, %d operations, want 50, \"52\", 2", len(items), next, err, ops)
	}
}

// Errors come out the same both ways.
func TestListBatchedErrors(t *testing.T) {
	m := NewMemory()
	c := coll(m.Backend())
	if err := c.Create("a", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("b", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	check := func(what string) {
		t.Helper()
		for _, limit := range []int{1, 5} {
			for _, cursor := range []string{"", "1", "x", "-1"} {
				want := renderList(coll(byKey(m)).List(cursor, limit))
				if got := renderList(coll(m.Backend()).List(cursor, limit)); got != want {
					t.Errorf("%s, limit %d cursor %q: batched %s, by key %s", what, limit, cursor, got, want)
				}
			}
		}
	}
	_ = m.Set("sp/test/item/b", []byte(`not json`))
	check("a record that is not JSON")
	_ = m.Set("sp/test/seq", []byte(`two`))
	check("a counter that is not a number")
	_ = m.Delete("sp/test/seq")
	check("no counter")
}

// A reader that answers outside its query is an error, not a wrong page.
func TestListRejectsBadReader(t *testing.T) {
	m := NewMemory()
	c := coll(m.Backend())
	for i := 0; i < 5; i++ {
		_ = c.Create(fmt.Sprintf("a%d", i), []byte(`{}`))
	}
	for name, mangle := range map[string]func(*IndexPage){
		"out of order": func(p *IndexPage) { p.Entries[0], p.Entries[1] = p.Entries[1], p.Entries[0] },
		"past Scanned": func(p *IndexPage) { p.Scanned = 1 },
		"no progress":  func(p *IndexPage) { p.Scanned, p.Entries = 0, nil },
	} {
		b := Backend{Store: m, Counter: struct {
			Counter
			IndexReader
		}{m, mangled{m, mangle}}}
		if _, _, err := coll(b).List("", 3); err != errIndexReader {
			t.Errorf("%s: %v, want errIndexReader", name, err)
		}
	}
}

type mangled struct {
	r      IndexReader
	mangle func(*IndexPage)
}

func (m mangled) ReadIndex(q IndexQuery) (IndexPage, error) {
	p, err := m.r.ReadIndex(q)
	if err == nil {
		m.mangle(&p)
	}
	return p, err
}

func renderLog(docs [][]byte, next int64, err error) string {
	var b gostrings.Builder
	for _, d := range docs {
		b.WriteString(string(d) + " ")
	}
	b.WriteString("next=" + strconv.FormatInt(next, 10))
	if err != nil {
		b.WriteString(" err=" + err.Error())
	}
	return b.String()
}

func TestNewestBatchedMatchesByKey(t *testing.T) {
	m := NewMemory()
	l := Log{m.Backend(), "sp/log"}
	for i := 1; i <= 30; i++ {
		if i%4 == 3 { // a writer that failed before storing
			_, _ = m.IncrBy("sp/log/n", 1)
			continue
		}
		if _, err := l.Append(func(n int64) []byte { return []byte(`{"n":` + strconv.FormatInt(n, 10) + `}`) }); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 9; i++ { // a run of gaps at the newest end
		_, _ = m.IncrBy("sp/log/n", 1)
	}
	chunkB, _ := chunkedBackend(m, 2)
	for _, limit := range []int{1, 2, 3, 20, 100} {
		for before := int64(-1); before <= 42; before++ {
			want := renderLog(Log{byKey(m), "sp/log"}.Newest(before, limit))
			for name, b := range map[string]Backend{"batched": m.Backend(), "chunked": chunkB} {
				if got := renderLog(Log{b, "sp/log"}.Newest(before, limit)); got != want {
					t.Errorf("limit %d before %d: %s\n  %s\nby key:\n  %s", limit, before, name, got, want)
				}
			}
		}
	}
	before := m.OpCount()
	if docs, _, err := l.Newest(0, 20); err != nil || len(docs) != 20 || m.OpCount()-before != 1 {
		t.Errorf("newest 20: %d docs, %v, %d operations, want 20 in 1", len(docs), err, m.OpCount()-before)
	}
	_ = m.Set("sp/log/n", []byte("x"))
	want := renderLog(Log{byKey(m), "sp/log"}.Newest(0, 5))
	if got := renderLog(l.Newest(0, 5)); got != want || !gostrings.Contains(got, "non-integer") {
		t.Errorf("a counter that is not a number: batched %s, by key %s", got, want)
	}
}

// encodePage is the Redis script's reply format (cmd/spinport readIndex).
func encodePage(p IndexPage, withItem bool) []byte {
	var b []byte
	f := func(s []byte) { b = append(append(append(b, strconv.Itoa(len(s))...), ':'), s...) }
	f(p.Counter)
	f([]byte(strconv.FormatInt(p.Scanned, 10)))
	for _, e := range p.Entries {
		f([]byte(strconv.FormatInt(e.N, 10)))
		if withItem {
			f(e.Name)
		}
		f(e.Value)
	}
	return b
}

// encoded is a reader that passes every page through the script's reply
// format, as the Redis backend does.
type encoded struct{ r IndexReader }

func (e encoded) ReadIndex(q IndexQuery) (IndexPage, error) {
	p, err := e.r.ReadIndex(q)
	if err != nil {
		return p, err
	}
	return DecodeIndexPage(encodePage(p, q.Item != ""), q.Item != "")
}

func TestDecodeIndexPage(t *testing.T) {
	m := collectionWorld(t)
	b := Backend{Store: m, Counter: struct {
		Counter
		IndexReader
	}{m, encoded{m}}}
	for _, limit := range []int{1, 3, 50} {
		for _, cursor := range []string{"", "7", "30"} {
			want := renderList(coll(byKey(m)).List(cursor, limit))
			if got := renderList(coll(b).List(cursor, limit)); got != want {
				t.Errorf("limit %d cursor %q: decoded pages list\n  %s\nby key:\n  %s", limit, cursor, got, want)
			}
		}
	}
	// Values with separators, digits and nothing at all.
	p := IndexPage{Counter: []byte("12"), Scanned: 9, Entries: []IndexEntry{
		{N: 3, Name: []byte("a:1"), Value: []byte("12:x:")}, {N: 9, Name: []byte("b"), Value: []byte{}}}}
	got, err := DecodeIndexPage(encodePage(p, true), true)
	if err != nil || string(got.Counter) != "12" || got.Scanned != 9 || len(got.Entries) != 2 ||
		got.Entries[0].N != 3 || string(got.Entries[0].Name) != "a:1" || string(got.Entries[0].Value) != "12:x:" ||
		got.Entries[1].N != 9 || string(got.Entries[1].Name) != "b" || len(got.Entries[1].Value) != 0 {
		t.Errorf("round trip: %+v %v", got, err)
	}
	for _, bad := range []string{"", "1:0", "1:01:x", "1:01:51:3", "1:01:51:31:a", "5:0", "x:0", "-1:01:5", "1:01:52:1", "99999999999:0"} {
		if _, err := DecodeIndexPage([]byte(bad), true); err == nil {
			t.Errorf("%q decodes", bad)
		}
	}
	if got, err := DecodeIndexPage([]byte("1:01:51:31:a"), false); err != nil || len(got.Entries) != 1 || string(got.Entries[0].Value) != "a" {
		t.Errorf("without item: %+v %v", got, err)
	}
}
