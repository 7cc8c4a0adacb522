module spinhost.test/guest

go 1.21

require github.com/fermyon/spin/sdk/go/v2 v2.2.0

require github.com/julienschmidt/httprouter v1.3.0 // indirect
