package kv

import (
	"errors"

	"github.com/spinport/spinport"
	"github.com/valyala/fastjson"
)

// What an artifact declares, by digest: a digest's content never changes,
// so the registry is asked once per new digest.

func artifactKey(digest string) string { return root + "artifact/" + digestHex(digest) }

// GetArtifact answers ErrNotFound for a digest not inspected yet.
func (db DB) GetArtifact(digest string) (spinport.Artifact, error) {
	b, err := db.B.Get(artifactKey(digest))
	if err != nil {
		return spinport.Artifact{}, err
	}
	var p fastjson.Parser
	r, err := p.ParseBytes(b)
	if err != nil {
		return spinport.Artifact{}, errors.New("kv: artifact record unreadable")
	}
	return *parseArtifact(r), nil
}

func (db DB) PutArtifact(digest string, a spinport.Artifact) error {
	return db.B.Set(artifactKey(digest), MarshalArtifact(a))
}
