package jsonw

import "testing"

func TestWriterNesting(t *testing.T) {
	var w W
	w.Object().Str("a", "x\"<y>\n").Num("n", -3).Key("list").Array().Int(1).Object().Flag("ok", true).End().Null().End().Strings("s", nil).Key("raw").Raw([]byte(`{"z":1}`)).End()
	want := `{"a":"x\"\u003cy\u003e\n","n":-3,"list":[1,{"ok":true},null],"s":[],"raw":{"z":1}}`
	if got := string(w.Bytes()); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestAppendStringInvalidUTF8(t *testing.T) {
	got := string(AppendString(nil, "a\xffb\u2028"))
	if want := `"a\ufffdb\u2028"`; got != want {
		t.Errorf("got %s want %s", got, want)
	}
}
