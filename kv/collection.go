package kv

import (
	"errors"
	"strconv"

	"github.com/spinport/spinport/jsonw"
	"github.com/valyala/fastjson"
)

// ErrExists is returned when creating a record whose name is taken.
var ErrExists = errors.New("kv: already exists")

// Collection is a named set of JSON documents that can be listed without
// get-keys. Keys (P = prefix):
//
//	P/item/<name>  {"seq":N,"doc":{...}}   the record
//	P/seq          N                        last slot handed out (atomic counter)
//	P/slot/<N>     <name>                   the index, one key per slot
//
// Create takes a slot first, then claims the name with SetNX. A slot whose
// record is missing or carries another seq (a lost race, a crash in between,
// a delete) is skipped when listing, so every record is listed exactly once
// and concurrent writers never overwrite each other's index entries.
//
// Remove is the racing-safe delete: it swaps the record for a removal
// marker {"seq":N,"removing":<deadline>,"doc":{...}} with CompareAndSwap,
// so of several racing removers exactly one wins. While the marker is live
// the name reads as absent and cannot be created again; a marker whose
// deadline passed (its remover died) reads as the record again, so a retry
// can remove it.
type Collection struct {
	B      Backend
	Prefix string
	Now    func() int64 // unix seconds, for removal markers; nil: markers never expire
}

func (c Collection) itemKey(name string) string { return c.Prefix + "/item/" + name }
func (c Collection) slotKey(seq int64) string {
	return c.Prefix + "/slot/" + strconv.FormatInt(seq, 10)
}
func (c Collection) seqKey() string { return c.Prefix + "/seq" }

func envelope(seq int64, doc []byte) []byte {
	var w jsonw.W
	w.Object().Num("seq", seq).Key("doc").Raw(doc).End()
	return w.Bytes()
}

func marker(seq, until int64, doc []byte) []byte {
	var w jsonw.W
	w.Object().Num("seq", seq).Num("removing", until).Key("doc").Raw(doc).End()
	return w.Bytes()
}

// stored is one record as read, with the bytes a CompareAndSwap must match.
type stored struct {
	raw      []byte
	seq      int64
	doc      []byte
	removing int64 // deadline of a removal in progress, 0 if none
}

// openEnvelope parses with p, which a list reuses for its page (see parse).
func openEnvelope(p *fastjson.Parser, b []byte) (stored, error) {
	st, doc, err := parseEnvelope(p, b)
	if err != nil {
		return stored{}, err
	}
	// fastjson keeps no raw spans: the document is re-encoded, which
	// copies its (untouched) strings, numbers and keys as stored, so
	// jsonw's compact documents come back byte for byte.
	st.doc = doc.MarshalTo(make([]byte, 0, len(b)))
	return st, nil
}

// parseEnvelope is openEnvelope without re-encoding the document: doc is
// the parsed value, valid until p's next parse. Lists read records from it
// directly, one parse per record instead of two.
func parseEnvelope(p *fastjson.Parser, b []byte) (stored, *fastjson.Value, error) {
	r, err := p.ParseBytes(b)
	if err != nil {
		return stored{}, nil, errors.New("kv: stored record is not valid JSON")
	}
	doc := r.Get("doc")
	if doc == nil || (doc.Type() != fastjson.TypeObject && doc.Type() != fastjson.TypeArray) {
		return stored{}, nil, errors.New("kv: stored record has no document")
	}
	return stored{raw: b, seq: num(r.Get("seq")), removing: num(r.Get("removing"))}, doc, nil
}

// beingRemoved reports whether a removal of st is in progress (its
// remover's deadline has not passed).
func (c Collection) beingRemoved(st stored) bool {
	return st.removing != 0 && (c.Now == nil || c.Now() < st.removing)
}

// Create stores doc under name, failing with ErrExists if the name is taken.
func (c Collection) Create(name string, doc []byte) error {
	seq, err := c.B.IncrBy(c.seqKey(), 1)
	if err != nil {
		return err
	}
	if err := c.B.Set(c.slotKey(seq), []byte(name)); err != nil {
		return err
	}
	ok, err := c.B.SetNX(c.itemKey(name), envelope(seq, doc))
	if err != nil {
		return err
	}
	if !ok {
		_ = c.B.Delete(c.slotKey(seq)) // best effort: listing skips it anyway
		return ErrExists
	}
	return nil
}

// Get returns the document stored under name, or ErrNotFound.
func (c Collection) Get(name string) ([]byte, error) {
	_, doc, err := c.get(name)
	return doc, err
}

func (c Collection) get(name string) (int64, []byte, error) {
	st, err := c.read(name)
	return st.seq, st.doc, err
}

// read returns the stored record; one being removed is ErrNotFound.
func (c Collection) read(name string) (stored, error) { return c.readWith(new(fastjson.Parser), name) }

// readWith is read parsing with p (a list reuses one for its page).
func (c Collection) readWith(p *fastjson.Parser, name string) (stored, error) {
	b, err := c.B.Get(c.itemKey(name))
	if err != nil {
		return stored{}, err
	}
	st, err := openEnvelope(p, b)
	if err == nil && c.beingRemoved(st) {
		return stored{}, ErrNotFound
	}
	return st, err
}

// readValue is readWith leaving the document parsed (see parseEnvelope).
func (c Collection) readValue(p *fastjson.Parser, name string) (stored, *fastjson.Value, error) {
	b, err := c.B.Get(c.itemKey(name))
	if err != nil {
		return stored{}, nil, err
	}
	st, doc, err := parseEnvelope(p, b)
	if err == nil && c.beingRemoved(st) {
		return stored{}, nil, ErrNotFound
	}
	return st, doc, err
}

// Update replaces an existing document, keeping its place in the list.
func (c Collection) Update(name string, doc []byte) error {
	seq, _, err := c.get(name)
	if err != nil {
		return err
	}
	return c.B.Set(c.itemKey(name), envelope(seq, doc))
}

// Modify replaces the document with change(current) only if nobody changed
// it in between (CompareAndSwap), re-reading and retrying a few times, so
// a derived value (a quota counter) can move by exactly the difference the
// write made. change may fail; its error is returned as is.
func (c Collection) Modify(name string, change func(cur []byte) ([]byte, error)) error {
	var p fastjson.Parser
	for attempt := 0; attempt < 8; attempt++ {
		st, err := c.readWith(&p, name)
		if err != nil {
			return err
		}
		doc, err := change(st.doc)
		if err != nil {
			return err
		}
		ok, err := c.B.CompareAndSwap(c.itemKey(name), st.raw, envelope(st.seq, doc))
		if err != nil || ok {
			return err
		}
	}
	return ErrConflict
}

// ErrConflict means a record kept changing under a write; retry later.
var ErrConflict = errors.New("kv: record changed concurrently")

// Remove deletes the record so that of racing removers exactly one wins:
// it marks the record as being removed until the deadline (CompareAndSwap
// from what it read), calls cleanup with the stored document, then deletes
// the marker and the index slot. It reports whether this call removed the
// record: false (and ErrNotFound) for a record that is absent or that
// another remover holds. If cleanup fails the marker stays until the
// deadline, after which the record is visible again and a retry removes it.
func (c Collection) Remove(name string, until int64, cleanup func(doc []byte) error) error {
	st, err := c.read(name)
	if err != nil {
		return err
	}
	mark := marker(st.seq, until, st.doc)
	ok, err := c.B.CompareAndSwap(c.itemKey(name), st.raw, mark)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound // another remover (or writer) got there first
	}
	if err := cleanup(st.doc); err != nil {
		return err
	}
	ok, err = c.B.CompareAndSwap(c.itemKey(name), mark, nil)
	if err != nil {
		return err
	}
	if !ok {
		// Our deadline passed and another remover took over: it finishes.
		return ErrNotFound
	}
	return c.B.Delete(c.slotKey(st.seq))
}

// Put creates or replaces the document under name.
func (c Collection) Put(name string, doc []byte) error {
	err := c.Update(name, doc)
	if errors.Is(err, ErrNotFound) {
		err = c.Create(name, doc)
		if errors.Is(err, ErrExists) { // created concurrently: ours is the newer write
			err = c.Update(name, doc)
		}
	}
	return err
}

// Delete removes the record and its index slot. Deleting a missing record is not an error.
func (c Collection) Delete(name string) error {
	seq, _, err := c.get(name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.B.Delete(c.itemKey(name)); err != nil {
		return err
	}
	return c.B.Delete(c.slotKey(seq))
}

// Item is one listed record.
type Item struct {
	Name string
	Doc  []byte
}

// List returns up to limit records in creation order after the cursor (""
// starts at the beginning) and the cursor for the next page ("" at the end).
// It probes at most 4*limit slots per call so a run of deleted records
// cannot make one request unbounded; it then returns a cursor to go on.
//
// On a backend with an IndexReader (Redis) the page takes one round trip
// (a few more only when slots it fetched turn out to be skipped); without
// one it reads the counter, then each slot and its record.
func (c Collection) List(cursor string, limit int) ([]Item, string, error) {
	items := make([]Item, 0, limit)
	next, err := c.Each(cursor, limit, func(name string, doc *fastjson.Value) error {
		items = append(items, Item{Name: name, Doc: doc.MarshalTo(nil)})
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return items, next, nil
}

// Each is List handing each record's document to each as parsed, valid
// only during the call (the page's parser moves on to the next record):
// a list page reads its records with one parse each. An error from each
// ends the walk and is returned.
func (c Collection) Each(cursor string, limit int, each func(name string, doc *fastjson.Value) error) (string, error) {
	from := int64(0)
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n < 0 {
			return "", ErrBadCursor
		}
		from = n
	}
	if r := c.B.indexReader(); r != nil {
		return c.listBatched(r, from, limit, each)
	}
	return c.listByKey(from, limit, each)
}

// listByKey is Each one key at a time.
func (c Collection) listByKey(from int64, limit int, each func(string, *fastjson.Value) error) (string, error) {
	last, err := readCounter(c.B, c.seqKey())
	if err != nil {
		return "", err
	}
	found := 0
	var p fastjson.Parser // one for the page (see parse)
	seq := from
	for probes := 0; seq < last && found < limit && probes < 4*limit; probes++ {
		seq++
		name, err := c.B.Get(c.slotKey(seq))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		st, doc, err := c.readValue(&p, string(name))
		if errors.Is(err, ErrNotFound) || (err == nil && st.seq != seq) {
			continue // lost race or deleted: the record is listed under its own slot
		}
		if err != nil {
			return "", err
		}
		found++
		if err := each(string(name), doc); err != nil {
			return "", err
		}
	}
	return c.nextCursor(seq, last), nil
}

func (c Collection) nextCursor(seq, last int64) string {
	if seq < last {
		return strconv.FormatInt(seq, 10)
	}
	return ""
}

// listBatched is listByKey with the slots and their records fetched by an
// IndexReader: it walks the same slots in the same order and decides each
// the same way (a slot or record that is missing is skipped, as is a
// record being removed or carrying another seq). The reader stops once it
// has fetched as many records as the page still needs; if some of them
// are skipped, the next read goes on from the last slot it probed.
func (c Collection) listBatched(r IndexReader, from int64, limit int, each func(string, *fastjson.Value) error) (string, error) {
	maxProbes := 4 * int64(limit)
	page, err := r.ReadIndex(IndexQuery{Counter: c.seqKey(), Entry: c.Prefix + "/slot/", Item: c.Prefix + "/item/",
		From: from, Probes: maxProbes, Want: int64(limit)})
	if err != nil {
		return "", err
	}
	last, err := counterValue(c.seqKey(), page.Counter)
	if err != nil {
		return "", err
	}
	found := 0
	var p fastjson.Parser // one for the page (see parse)
	seq, probes := from, int64(0)
	for {
		if err := checkPage(page, seq, false); err != nil {
			return "", err
		}
		i := 0
		for seq < page.Scanned && found < limit {
			seq++
			probes++
			if i >= len(page.Entries) || page.Entries[i].N != seq {
				continue // no slot, or no record under it
			}
			e := page.Entries[i]
			i++
			st, doc, err := parseEnvelope(&p, e.Value)
			if err == nil && c.beingRemoved(st) {
				continue // reads as absent, as Get does
			}
			if err != nil {
				return "", err
			}
			if st.seq != seq {
				continue // lost race or deleted: the record is listed under its own slot
			}
			found++
			if err := each(string(e.Name), doc); err != nil {
				return "", err
			}
		}
		if seq >= last || found >= limit || probes >= maxProbes {
			break
		}
		page, err = r.ReadIndex(IndexQuery{Last: last, Entry: c.Prefix + "/slot/", Item: c.Prefix + "/item/",
			From: seq, Probes: maxProbes - probes, Want: int64(limit - found)})
		if err != nil {
			return "", err
		}
		if page.Scanned == seq {
			return "", errIndexReader // no progress
		}
	}
	return c.nextCursor(seq, last), nil
}

// counterValue parses a counter an IndexReader read, as readInt does.
func counterValue(key string, raw []byte) (int64, error) {
	n, ok := parseInt(raw)
	if !ok {
		return 0, errors.New("kv: counter " + key + " holds a non-integer value")
	}
	return n, nil
}

// checkPage verifies that a reader's page fits a read from cur (the
// last number already walked): entries strictly in probe order, within
// (cur, Scanned] ascending or [Scanned, cur) descending.
func checkPage(page IndexPage, cur int64, desc bool) error {
	prev := cur
	for _, e := range page.Entries {
		if (!desc && (e.N <= prev || e.N > page.Scanned)) || (desc && (e.N >= prev || e.N < page.Scanned)) {
			return errIndexReader
		}
		prev = e.N
	}
	if (!desc && page.Scanned < cur) || (desc && page.Scanned > cur) {
		return errIndexReader
	}
	return nil
}

// ErrBadCursor is returned for a page cursor spinport did not hand out.
var ErrBadCursor = errors.New("kv: invalid page cursor")

func readCounter(b Backend, key string) (int64, error) { return readInt(b.Store, key) }
