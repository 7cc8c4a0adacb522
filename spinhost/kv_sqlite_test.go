package spinhost

import (
	"context"
	"database/sql"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The table must be Spin's, so a database written by spinhost is read by
// spin up (and the other way round).
func TestSQLiteSchemaIsSpins(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), ".spin", DefaultKVFilename)
	b, err := newSQLiteKV(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s, err := b.Open(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ddl string
	if err := db.QueryRow(`SELECT sql FROM sqlite_master WHERE type='table' AND name='spin_key_value'`).Scan(&ddl); err != nil {
		t.Fatal(err)
	}
	// sqlite_master keeps the statement without "IF NOT EXISTS".
	if want := strings.Replace(SQLiteKVSchema, "CREATE TABLE IF NOT EXISTS", "CREATE TABLE", 1); ddl != want {
		t.Errorf("schema:\n%s\nwant:\n%s", ddl, want)
	}
	type col struct {
		name, typ      string
		notnull, pkPos int
	}
	rows, err := db.Query(`PRAGMA table_info(spin_key_value)`)
	if err != nil {
		t.Fatal(err)
	}
	var cols []col
	for rows.Next() {
		var cid int
		var c col
		var dflt any
		if err := rows.Scan(&cid, &c.name, &c.typ, &c.notnull, &dflt, &c.pkPos); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	want := []col{{"store", "TEXT", 1, 1}, {"key", "TEXT", 1, 2}, {"value", "BLOB", 1, 0}}
	if len(cols) != len(want) {
		t.Fatalf("columns = %+v", cols)
	}
	for i := range want {
		if cols[i] != want[i] {
			t.Errorf("column %d = %+v, want %+v", i, cols[i], want[i])
		}
	}
	var store, key string
	var value []byte
	if err := db.QueryRow(`SELECT store, key, value FROM spin_key_value`).Scan(&store, &key, &value); err != nil {
		t.Fatal(err)
	}
	if store != "default" || key != "k" || string(value) != "v" {
		t.Errorf("row = %q %q %q", store, key, value)
	}
}

// A database created by Spin (its exact DDL, rows inserted by it) is read
// correctly, and labels are kept apart by the store column.
func TestSQLiteReadsSpinDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "spin.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(SQLiteKVSchema); err != nil {
		t.Fatal(err)
	}
	for _, r := range [][3]string{{"default", "a", "1"}, {"default", "b", "2"}, {"other", "a", "x"}} {
		if _, err := db.Exec(`INSERT INTO spin_key_value (store, key, value) VALUES (?, ?, ?)`, r[0], r[1], []byte(r[2])); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	b, err := newSQLiteKV(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	def, _ := b.Open(ctx, "default")
	other, _ := b.Open(ctx, "other")
	if v, ok, err := def.Get(ctx, "a"); err != nil || !ok || string(v) != "1" {
		t.Errorf("default/a = %q %v %v", v, ok, err)
	}
	if v, ok, _ := other.Get(ctx, "a"); !ok || string(v) != "x" {
		t.Errorf("other/a = %q %v", v, ok)
	}
	keys, _ := def.Keys(ctx)
	sort.Strings(keys)
	if strings.Join(keys, ",") != "a,b" {
		t.Errorf("keys = %v", keys)
	}
	if err := def.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := def.Exists(ctx, "a"); ok {
		t.Error("a still exists")
	}
	if ok, _ := other.Exists(ctx, "a"); !ok {
		t.Error("deleting default/a removed other/a")
	}
	if err := def.Set(ctx, "empty", nil); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := def.Get(ctx, "empty"); !ok || len(v) != 0 {
		t.Errorf("empty = %q %v", v, ok)
	}
}

func TestSQLiteInMemory(t *testing.T) {
	ctx := context.Background()
	b, err := newSQLiteKV("")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s1, _ := b.Open(ctx, "mem")
	if err := s1.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	s2, _ := b.Open(ctx, "mem")
	if v, ok, _ := s2.Get(ctx, "k"); !ok || string(v) != "v" {
		t.Errorf("in-memory value lost between opens: %q %v", v, ok)
	}
}
