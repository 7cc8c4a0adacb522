module github.com/spinport/spinport

go 1.21

require (
	github.com/fermyon/spin/sdk/go/v2 v2.2.0
	github.com/julienschmidt/httprouter v1.3.0
	github.com/tidwall/gjson v1.18.0
	github.com/valyala/fastjson v1.6.4
)

require (
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.2.0 // indirect
)
