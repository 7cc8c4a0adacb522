package spinhost

import (
	"context"
	"fmt"
	"strconv"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Host side of the Spin 1 "outbound-redis" interface
// (wit/outbound-redis.wit, the Go SDK's redis/outbound-redis.c). Every call
// names the server by address (redis://host:port[/db]); the address must
// match allowed_outbound_hosts with the redis scheme (default port 6379),
// as in Spin. The error type is a bare enum (success, error), so every
// failure, a refused address included, is just "error".
//
// Result layouts at ret (wit-bindgen 0.2):
//
//	expected<unit, error>          tag @0, err u8 @1
//	expected<payload, error>       tag @0, ok (ptr @4, len @8), err u8 @4
//	expected<s64, error>           tag @0, ok i64 @8,           err u8 @8
//	expected<list<string>, error>  tag @0, ok (ptr @4, len @8), err u8 @4
//	expected<list<redis-result>,_> tag @0, ok (ptr @4, len @8), err u8 @4
//
// redis-parameter and redis-result are 16-byte, 8-aligned variants: tag
// u8 @0, payload @8 (i64, or a (ptr, len) pair).

const (
	redisParamInt64  = 0
	redisParamBinary = 1

	redisResultNil    = 0
	redisResultStatus = 1
	redisResultInt64  = 2
	redisResultBinary = 3
)

func registerOutboundRedis(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder("outbound-redis").
		NewFunctionBuilder().WithFunc(redisPublish).Export("publish").
		NewFunctionBuilder().WithFunc(redisGet).Export("get").
		NewFunctionBuilder().WithFunc(redisSet).Export("set").
		NewFunctionBuilder().WithFunc(redisIncr).Export("incr").
		NewFunctionBuilder().WithFunc(redisDel).Export("del").
		NewFunctionBuilder().WithFunc(redisSadd).Export("sadd").
		NewFunctionBuilder().WithFunc(redisSmembers).Export("smembers").
		NewFunctionBuilder().WithFunc(redisSrem).Export("srem").
		NewFunctionBuilder().WithFunc(redisExecute).Export("execute").
		Instantiate(ctx)
	return err
}

// redisCall checks the address against the component's allow-list and
// runs one command on a new connection.
func redisCall(ctx context.Context, address string, args ...[]byte) (respValue, error) {
	st := stateFrom(ctx)
	if !st.comp.allowed.Allows(address, "redis") {
		st.host.log.Printf("[%s] A component tried to make a request to non-allowed url '%s'.", st.comp.id, withoutPassword(address))
		return respValue{}, fmt.Errorf("address %q is not in allowed_outbound_hosts", withoutPassword(address))
	}
	v, err := redisCommand(ctx, address, st.host.opts.StoreTimeout, st.host.roots, args...)
	if err != nil {
		st.host.log.Printf("[%s] outbound redis error (%s): %v", st.comp.id, withoutPassword(address), err)
	}
	return v, err
}

func strArgs(cmd string, items ...string) [][]byte {
	out := [][]byte{[]byte(cmd)}
	for _, s := range items {
		out = append(out, []byte(s))
	}
	return out
}

func writeRedisUnit(g *guest, ret uint32, err error) {
	g.checkRange(ret, 2)
	if err != nil {
		g.putU8(ret, 1)
		g.putU8(ret+1, 1)
		return
	}
	g.putU8(ret, 0)
}

// writeRedisErr4 writes the err arm of results whose payload sits at @4.
func writeRedisErr4(g *guest, ret uint32) {
	g.checkRange(ret, 5)
	g.putU8(ret, 1)
	g.putU8(ret+4, 1)
}

func writeRedisS64(g *guest, ret uint32, n int64, err error) {
	g.checkRange(ret, 16)
	if err != nil {
		g.putU8(ret, 1)
		g.putU8(ret+8, 1)
		return
	}
	g.putU8(ret, 0)
	g.putU64(ret+8, uint64(n))
}

func writeRedisList(g *guest, ret uint32, ptr, n uint32) {
	g.checkRange(ret, 12)
	g.putU8(ret, 0)
	g.putU32(ret+4, ptr)
	g.putU32(ret+8, n)
}

func intReply(v respValue, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	if v.kind != respInteger {
		return 0, fmt.Errorf("expected an integer reply")
	}
	return v.num, nil
}

func redisPublish(ctx context.Context, m api.Module, aPtr, aLen, chPtr, chLen, pPtr, pLen, ret uint32) {
	g := newGuest(ctx, m)
	addr, ch, payload := g.string(aPtr, aLen), g.bytes(chPtr, chLen), g.bytes(pPtr, pLen)
	_, err := redisCall(ctx, addr, []byte("PUBLISH"), ch, payload)
	writeRedisUnit(g, ret, err)
}

// redisGet returns an empty payload for a missing key, as Spin's v1 get
// does (unwrap_or_default).
func redisGet(ctx context.Context, m api.Module, aPtr, aLen, kPtr, kLen, ret uint32) {
	g := newGuest(ctx, m)
	addr, key := g.string(aPtr, aLen), g.bytes(kPtr, kLen)
	v, err := redisCall(ctx, addr, []byte("GET"), key)
	if err == nil && v.kind != respBulk {
		err = fmt.Errorf("GET: unexpected reply")
	}
	if err != nil {
		writeRedisErr4(g, ret)
		return
	}
	p, l := g.putBytes(v.bulk)
	writeRedisList(g, ret, p, l)
}

func redisSet(ctx context.Context, m api.Module, aPtr, aLen, kPtr, kLen, vPtr, vLen, ret uint32) {
	g := newGuest(ctx, m)
	addr, key, val := g.string(aPtr, aLen), g.bytes(kPtr, kLen), g.bytes(vPtr, vLen)
	_, err := redisCall(ctx, addr, []byte("SET"), key, val)
	writeRedisUnit(g, ret, err)
}

func redisIncr(ctx context.Context, m api.Module, aPtr, aLen, kPtr, kLen, ret uint32) {
	g := newGuest(ctx, m)
	addr, key := g.string(aPtr, aLen), g.bytes(kPtr, kLen)
	// Spin sends INCRBY key 1.
	n, err := intReply(redisCall(ctx, addr, []byte("INCRBY"), key, []byte("1")))
	writeRedisS64(g, ret, n, err)
}

func redisDel(ctx context.Context, m api.Module, aPtr, aLen, keysPtr, keysLen, ret uint32) {
	g := newGuest(ctx, m)
	addr, keys := g.string(aPtr, aLen), g.stringList(keysPtr, keysLen)
	n, err := intReply(redisCall(ctx, addr, strArgs("DEL", keys...)...))
	writeRedisS64(g, ret, n, err)
}

func redisSadd(ctx context.Context, m api.Module, aPtr, aLen, kPtr, kLen, vPtr, vLen, ret uint32) {
	g := newGuest(ctx, m)
	addr, key, vals := g.string(aPtr, aLen), g.string(kPtr, kLen), g.stringList(vPtr, vLen)
	n, err := intReply(redisCall(ctx, addr, strArgs("SADD", append([]string{key}, vals...)...)...))
	writeRedisS64(g, ret, n, err)
}

func redisSrem(ctx context.Context, m api.Module, aPtr, aLen, kPtr, kLen, vPtr, vLen, ret uint32) {
	g := newGuest(ctx, m)
	addr, key, vals := g.string(aPtr, aLen), g.string(kPtr, kLen), g.stringList(vPtr, vLen)
	n, err := intReply(redisCall(ctx, addr, strArgs("SREM", append([]string{key}, vals...)...)...))
	writeRedisS64(g, ret, n, err)
}

func redisSmembers(ctx context.Context, m api.Module, aPtr, aLen, kPtr, kLen, ret uint32) {
	g := newGuest(ctx, m)
	addr, key := g.string(aPtr, aLen), g.bytes(kPtr, kLen)
	v, err := redisCall(ctx, addr, []byte("SMEMBERS"), key)
	if err == nil && v.kind != respArray {
		err = fmt.Errorf("SMEMBERS: unexpected reply")
	}
	if err != nil {
		writeRedisErr4(g, ret)
		return
	}
	members := make([]string, 0, len(v.arr))
	for _, e := range v.arr {
		members = append(members, string(e.bulk))
	}
	p, n := g.putStringList(members)
	writeRedisList(g, ret, p, n)
}

// Options.RedisReplies: how execute turns a reply into the guest's list of
// redis-result, after Spin's RedisResults (crates/factor-outbound-redis).
// In both, arrays (nested ones too) are flattened into the list, an
// integer is an int64 result, a bulk string a binary result, a status
// other than OK a status result, and an error anywhere in the reply (as
// inside an EXEC reply) makes the call fail.
const (
	// RedisRepliesSpin34 is Spin up to 3.4: a nil reply
	// (nil bulk string or nil array) and the "+OK" status are dropped, so
	// SET answers an empty list and GET of a missing key too.
	RedisRepliesSpin34 = "spin-3.4"
	// RedisRepliesSpin35 is Spin 3.5 and later (containerd-shim-spin
	// v0.22 and later; v0.24 embeds Spin 3.6.3): a nil reply is a nil
	// result and "+OK" a status result "OK". The default.
	RedisRepliesSpin35 = "spin-3.5"
)

// redisExecute runs an arbitrary command; the reply becomes results as
// Options.RedisReplies says (RedisRepliesSpin34, RedisRepliesSpin35).
func redisExecute(ctx context.Context, m api.Module, aPtr, aLen, cPtr, cLen, argPtr, argLen, ret uint32) {
	g := newGuest(ctx, m)
	addr, cmd := g.string(aPtr, aLen), g.string(cPtr, cLen)
	args := [][]byte{[]byte(cmd)}
	for _, e := range g.listElems(argPtr, argLen, 16) {
		switch tag := g.u8(e); tag {
		case redisParamInt64:
			args = append(args, []byte(strconv.FormatInt(int64(g.u64(e+8)), 10)))
		case redisParamBinary:
			args = append(args, g.bytes(g.u32(e+8), g.u32(e+12)))
		default:
			faultf("invalid redis-parameter tag %d", tag)
		}
	}
	v, err := redisCall(ctx, addr, args...)
	if err != nil {
		writeRedisErr4(g, ret)
		return
	}
	var results []respValue
	if err := flattenRedis(v, stateFrom(ctx).host.opts.RedisReplies == RedisRepliesSpin34, &results); err != nil {
		writeRedisErr4(g, ret)
		return
	}
	base := g.alloc(uint32(len(results))*16, 8)
	for i, r := range results {
		e := base + uint32(i)*16
		switch {
		case r.isNil:
			g.putU8(e, redisResultNil)
		case r.kind == respStatus:
			p, l := g.putString(r.str)
			g.putU8(e, redisResultStatus)
			g.putU32(e+8, p)
			g.putU32(e+12, l)
		case r.kind == respInteger:
			g.putU8(e, redisResultInt64)
			g.putU64(e+8, uint64(r.num))
		default: // bulk
			p, l := g.putBytes(r.bulk)
			g.putU8(e, redisResultBinary)
			g.putU32(e+8, p)
			g.putU32(e+12, l)
		}
	}
	writeRedisList(g, ret, base, uint32(len(results)))
}

// flattenRedis appends v to out, arrays element by element; spin34 drops
// nil replies and "+OK" as Spin up to 3.4 did.
func flattenRedis(v respValue, spin34 bool, out *[]respValue) error {
	switch {
	case v.isNil:
		if !spin34 {
			*out = append(*out, respValue{isNil: true})
		}
	case v.kind == respError:
		return redisServerError(v.str) // e.g. inside an EXEC reply
	case v.kind == respStatus && v.str == "OK" && spin34:
	case v.kind == respArray:
		for _, e := range v.arr {
			if err := flattenRedis(e, spin34, out); err != nil {
				return err
			}
		}
	default:
		*out = append(*out, v)
	}
	return nil
}
