package oidc

import (
	"github.com/spinport/spinport/jsonw"
	"github.com/tidwall/gjson"
)

// validJSON checks JSON from outside (identity providers) before gjson
// reads it: shallow enough for a TinyGo stack, then well-formed.
func validJSON(b []byte) bool { return jsonw.Shallow(b, jsonw.MaxDepth) && gjson.ValidBytes(b) }
