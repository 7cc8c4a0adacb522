package spinhost

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	_ "modernc.org/sqlite" // pure-Go SQLite driver "sqlite"
)

// SQLiteKVSchema is the table Spin's SQLite key-value provider
// (spin-key-value-spin, KeyValueSqlite::create_connection) creates, byte
// for byte, so a .spin/sqlite_key_value.db written by this host is read by
// spin up and vice versa. Every label lives in the same table, keyed by
// (store, key).
const SQLiteKVSchema = `CREATE TABLE IF NOT EXISTS spin_key_value (
                           store TEXT NOT NULL,
                           key   TEXT NOT NULL,
                           value BLOB NOT NULL,

                           PRIMARY KEY (store, key)
                        )`

// The statements Spin's SqliteStore runs.
const (
	sqliteGet    = `SELECT value FROM spin_key_value WHERE store=$1 AND key=$2`
	sqliteSet    = `INSERT INTO spin_key_value (store, key, value) VALUES ($1, $2, $3) ON CONFLICT(store, key) DO UPDATE SET value=$3`
	sqliteDelete = `DELETE FROM spin_key_value WHERE store=$1 AND key=$2`
	sqliteKeys   = `SELECT key FROM spin_key_value WHERE store=$1`
)

// sqliteKV is the backend for type = "spin". Like Spin it opens the
// database lazily, on the first open() of a store, and uses a single
// connection: Spin serialises all access through one mutex-guarded
// rusqlite connection, and one database/sql connection gives the same
// ordering without SQLITE_BUSY between concurrent requests.
type sqliteKV struct {
	path string // "" = in-memory

	once sync.Once
	db   *sql.DB
	err  error
}

func newSQLiteKV(path string) (*sqliteKV, error) {
	if path != "" {
		// Spin creates the parent directory when it configures the store.
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("failed to create key value store's parent directory: '%s': %w", filepath.Dir(path), err)
		}
	}
	return &sqliteKV{path: path}, nil
}

func (b *sqliteKV) connect() (*sql.DB, error) {
	b.once.Do(func() {
		dsn := ":memory:"
		if b.path != "" {
			dsn = b.path
		}
		// busy_timeout covers other processes (or another label pointing
		// at the same file) holding the lock briefly.
		db, err := sql.Open("sqlite", dsn+"?_pragma=busy_timeout(5000)")
		if err != nil {
			b.err = err
			return
		}
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0) // an in-memory database lives as long as its connection
		if _, err := db.Exec(SQLiteKVSchema); err != nil {
			db.Close()
			b.err = fmt.Errorf("opening %s: %w", b.Summary(), err)
			return
		}
		b.db = db
	})
	return b.db, b.err
}

func (b *sqliteKV) Open(ctx context.Context, label string) (KVStore, error) {
	db, err := b.connect()
	if err != nil {
		return nil, err
	}
	return &sqliteStore{db: db, name: label}, nil
}

func (b *sqliteKV) Summary() string {
	if b.path == "" {
		return "a temporary in-memory store"
	}
	return fmt.Sprintf("%q", b.path)
}

func (b *sqliteKV) Close() error {
	if b.db != nil {
		return b.db.Close()
	}
	return nil
}

type sqliteStore struct {
	db   *sql.DB
	name string
}

func (s *sqliteStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	var v []byte
	err := s.db.QueryRowContext(ctx, sqliteGet, s.name, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

func (s *sqliteStore) Set(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{} // the column is NOT NULL; an empty value is a zero-length blob
	}
	_, err := s.db.ExecContext(ctx, sqliteSet, s.name, key, value)
	return err
}

func (s *sqliteStore) Delete(ctx context.Context, key string) error {
	_, err := s.db.ExecContext(ctx, sqliteDelete, s.name, key)
	return err
}

func (s *sqliteStore) Exists(ctx context.Context, key string) (bool, error) {
	_, ok, err := s.Get(ctx, key)
	return ok, err
}

func (s *sqliteStore) Keys(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, sqliteKeys, s.name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	keys := []string{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}
