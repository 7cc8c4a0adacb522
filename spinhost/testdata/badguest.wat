;; A hand-written Spin 1 ABI "component" that hands the host bad pointers.
;; The spinhost tests embed its binary (badguest_module_test.go, regenerate
;; with `wat2wasm testdata/badguest.wat -o /dev/stdout | xxd -i` or see
;; TestBadGuestBinaryUpToDate) and check that every case is a 500 for that
;; request only, never a host crash. The HTTP method picks the case:
;;   GET     key-value.get with a key pointer outside memory
;;   POST    handle-http-request returns a return-area pointer outside memory
;;   PUT     response whose header list points outside memory
;;   DELETE  spin-config.get-config with a return area outside memory
;;   PATCH   wasi-outbound-http.request with an absurd header count
;;   other   a valid empty 204 response
(module
  (import "key-value" "get" (func $kv_get (param i32 i32 i32 i32)))
  (import "spin-config" "get-config" (func $get_config (param i32 i32 i32)))
  (import "wasi-outbound-http" "request"
    (func $http (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 4096))

  ;; Bump allocator: enough for the host's request record.
  (func (export "canonical_abi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump
      (i32.add (global.get $bump)
        (i32.and (i32.add (local.get 3) (i32.const 7)) (i32.const -8))))
    (block $done
      (loop $grow
        (br_if $done
          (i32.le_u (global.get $bump) (i32.mul (memory.size) (i32.const 65536))))
        (drop (memory.grow (i32.const 1)))
        (br $grow)))
    (local.get $p))

  (func (export "canonical_abi_free") (param i32 i32 i32))

  (func (export "handle-http-request")
    (param $method i32) (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (block $ok
      (block $patch
        (block $delete
          (block $put
            (block $post
              (block $get
                (br_table $get $post $put $delete $patch $ok (local.get $method)))
              ;; GET
              (call $kv_get (i32.const 0) (i32.const 0xFFFFFFF0) (i32.const 100) (i32.const 16))
              (br $ok))
            ;; POST
            (return (i32.const 0xFFFFFFF0)))
          ;; PUT
          (i32.store16 (i32.const 64) (i32.const 200))
          (i32.store8 (i32.const 68) (i32.const 1))
          (i32.store (i32.const 72) (i32.const 0xFFFF0000))
          (i32.store (i32.const 76) (i32.const 5))
          (i32.store8 (i32.const 80) (i32.const 0))
          (return (i32.const 64)))
        ;; DELETE
        (call $get_config (i32.const 0) (i32.const 0) (i32.const 0xFFFFFFFC))
        (br $ok))
      ;; PATCH
      (call $http (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0x7FFFFFFF)
        (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 16))
      (br $ok))
    ;; a valid 204 with neither headers nor body
    (i32.store16 (i32.const 64) (i32.const 204))
    (i32.store8 (i32.const 68) (i32.const 0))
    (i32.store8 (i32.const 80) (i32.const 0))
    (i32.const 64))
)
