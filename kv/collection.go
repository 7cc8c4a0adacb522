package kv

import (
	"errors"
	"strconv"

	"github.com/spinport/spinport/jsonw"
	"github.com/tidwall/gjson"
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
type Collection struct {
	B      Backend
	Prefix string
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

func openEnvelope(b []byte) (seq int64, doc []byte, err error) {
	if !gjson.ValidBytes(b) {
		return 0, nil, errors.New("kv: stored record is not valid JSON")
	}
	r := gjson.GetManyBytes(b, "seq", "doc")
	if r[1].Type != gjson.JSON {
		return 0, nil, errors.New("kv: stored record has no document")
	}
	return r[0].Int(), []byte(r[1].Raw), nil
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
	b, err := c.B.Get(c.itemKey(name))
	if err != nil {
		return 0, nil, err
	}
	return openEnvelope(b)
}

// Update replaces an existing document, keeping its place in the list.
func (c Collection) Update(name string, doc []byte) error {
	seq, _, err := c.get(name)
	if err != nil {
		return err
	}
	return c.B.Set(c.itemKey(name), envelope(seq, doc))
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
func (c Collection) List(cursor string, limit int) ([]Item, string, error) {
	from := int64(0)
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n < 0 {
			return nil, "", ErrBadCursor
		}
		from = n
	}
	last, err := readCounter(c.B, c.seqKey())
	if err != nil {
		return nil, "", err
	}
	items := make([]Item, 0, limit)
	seq := from
	for probes := 0; seq < last && len(items) < limit && probes < 4*limit; probes++ {
		seq++
		name, err := c.B.Get(c.slotKey(seq))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		got, doc, err := c.get(string(name))
		if errors.Is(err, ErrNotFound) || (err == nil && got != seq) {
			continue // lost race or deleted: the record is listed under its own slot
		}
		if err != nil {
			return nil, "", err
		}
		items = append(items, Item{Name: string(name), Doc: doc})
	}
	next := ""
	if seq < last {
		next = strconv.FormatInt(seq, 10)
	}
	return items, next, nil
}

// ErrBadCursor is returned for a page cursor spinport did not hand out.
var ErrBadCursor = errors.New("kv: invalid page cursor")

func readCounter(b Backend, key string) (int64, error) { return readInt(b.Store, key) }
