//! Airlock skill SDK for Zig (WASI preview1). See docs/skill-abi.md.
//!
//!     const airlock = @import("airlock");
//!     pub fn main() void {
//!         const args = airlock.args();                 // std.json.Value (an object)
//!         var out = airlock.Json.init();
//!         out.beginObject(); out.key("ok"); out.boolean(true); out.endObject();
//!         airlock.ok(&out);                            // exits 0
//!     }
//!
//! Only raw WASI calls and std.json parsing are used, so the SDK does not depend on the
//! fast-moving parts of the Zig standard library (I/O interfaces).

const std = @import("std");
const wasi = std.os.wasi;

pub const allocator = std.heap.wasm_allocator;
const max_input = 1024 * 1024; // the host caps stdin at 1 MiB too

fn writeAll(fd: wasi.fd_t, bytes: []const u8) void {
    var rest = bytes;
    while (rest.len > 0) {
        var iov = [_]wasi.ciovec_t{.{ .base = rest.ptr, .len = rest.len }};
        var n: usize = 0;
        if (wasi.fd_write(fd, &iov, 1, &n) != .SUCCESS) wasi.proc_exit(2);
        rest = rest[n..];
    }
}

/// A growable JSON writer: call beginObject/key/string/... in document order.
pub const Json = struct {
    buf: []u8,
    len: usize,
    fresh: [64]bool,
    depth: usize,
    after_key: bool,

    pub fn init() Json {
        return .{ .buf = &[_]u8{}, .len = 0, .fresh = @splat(true), .depth = 0, .after_key = false };
    }
    fn put(self: *Json, s: []const u8) void {
        if (self.len + s.len > self.buf.len) {
            var cap: usize = if (self.buf.len == 0) 256 else self.buf.len * 2;
            while (cap < self.len + s.len) cap *= 2;
            const grown = allocator.alloc(u8, cap) catch fail("out_of_memory", "out of memory");
            @memcpy(grown[0..self.len], self.buf[0..self.len]);
            if (self.buf.len > 0) allocator.free(self.buf);
            self.buf = grown;
        }
        @memcpy(self.buf[self.len .. self.len + s.len], s);
        self.len += s.len;
    }
    fn sep(self: *Json) void {
        if (self.after_key) {
            self.after_key = false;
            return;
        }
        if (self.depth > 0 and !self.fresh[self.depth]) self.put(",");
        self.fresh[self.depth] = false;
    }
    pub fn beginObject(self: *Json) void {
        self.sep();
        self.put("{");
        self.depth += 1;
        self.fresh[self.depth] = true;
    }
    pub fn endObject(self: *Json) void {
        self.put("}");
        self.depth -= 1;
    }
    pub fn beginArray(self: *Json) void {
        self.sep();
        self.put("[");
        self.depth += 1;
        self.fresh[self.depth] = true;
    }
    pub fn endArray(self: *Json) void {
        self.put("]");
        self.depth -= 1;
    }
    fn quoted(self: *Json, s: []const u8) void {
        const hex = "0123456789abcdef";
        self.put("\"");
        for (s) |c| {
            switch (c) {
                '"' => self.put("\\\""),
                '\\' => self.put("\\\\"),
                '\n' => self.put("\\n"),
                '\r' => self.put("\\r"),
                '\t' => self.put("\\t"),
                0...8, 11, 12, 14...31 => self.put(&[_]u8{ '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] }),
                else => self.put(&[_]u8{c}),
            }
        }
        self.put("\"");
    }
    pub fn key(self: *Json, k: []const u8) void {
        self.sep();
        self.quoted(k);
        self.put(":");
        self.after_key = true;
    }
    pub fn string(self: *Json, s: []const u8) void {
        self.sep();
        self.quoted(s);
    }
    pub fn int(self: *Json, v: i64) void {
        self.sep();
        var tmp: [24]u8 = undefined;
        self.put(std.fmt.bufPrint(&tmp, "{d}", .{v}) catch unreachable);
    }
    pub fn boolean(self: *Json, v: bool) void {
        self.sep();
        self.put(if (v) "true" else "false");
    }
    pub fn bytes(self: *const Json) []const u8 {
        return self.buf[0..self.len];
    }
};

/// Write the finished document as the result and exit 0.
pub fn ok(out: *const Json) noreturn {
    writeAll(1, out.bytes());
    writeAll(1, "\n");
    wasi.proc_exit(0);
}

/// Write {"error":{"code":...,"message":...}} and exit 1.
pub fn fail(code: []const u8, message: []const u8) noreturn {
    var out = Json.init();
    out.beginObject();
    out.key("error");
    out.beginObject();
    out.key("code");
    out.string(code);
    out.key("message");
    out.string(message);
    out.endObject();
    out.endObject();
    writeAll(1, out.bytes());
    writeAll(1, "\n");
    wasi.proc_exit(1);
}

/// Like fail, with a formatted message.
pub fn failf(code: []const u8, comptime fmt: []const u8, fmt_args: anytype) noreturn {
    var tmp: [512]u8 = undefined;
    const msg = std.fmt.bufPrint(&tmp, fmt, fmt_args) catch "error message too long";
    fail(code, msg);
}

/// Read and parse the arguments object from stdin (fails with bad_arguments otherwise).
pub fn args() std.json.ObjectMap {
    const buf = allocator.alloc(u8, max_input + 1) catch fail("out_of_memory", "out of memory");
    var len: usize = 0;
    while (len <= max_input) {
        var iov = [_]wasi.iovec_t{.{ .base = buf.ptr + len, .len = buf.len - len }};
        var n: usize = 0;
        if (wasi.fd_read(0, &iov, 1, &n) != .SUCCESS) fail("bad_arguments", "cannot read stdin");
        if (n == 0) break;
        len += n;
    }
    if (len > max_input) fail("bad_arguments", "arguments are over 1 MiB");
    const parsed = std.json.parseFromSlice(std.json.Value, allocator, buf[0..len], .{}) catch
        fail("bad_arguments", "arguments are not valid JSON");
    return switch (parsed.value) {
        .object => |o| o,
        else => fail("bad_arguments", "arguments must be a JSON object"),
    };
}

/// A string argument, `fallback` if absent; fails if present with another type.
pub fn argString(a: std.json.ObjectMap, name: []const u8, fallback: ?[]const u8) ?[]const u8 {
    const v = a.get(name) orelse return fallback;
    return switch (v) {
        .string => |s| s,
        else => failf("bad_arguments", "`{s}` must be a string", .{name}),
    };
}

/// An integer argument, `fallback` if absent; fails if present with another type.
pub fn argInt(a: std.json.ObjectMap, name: []const u8, fallback: i64) i64 {
    const v = a.get(name) orelse return fallback;
    return switch (v) {
        .integer => |i| i,
        else => failf("bad_arguments", "`{s}` must be an integer", .{name}),
    };
}

extern "airlock" fn call(ptr: [*]const u8, len: i32) i32;
extern "airlock" fn reply(ptr: [*]u8, len: i32) i32;

/// Send one host-call request document; returns the parsed reply ({"v":1,"ok":...}).
pub fn hostCall(request: []const u8) error{ HostCallFailed, BadReply }!std.json.Value {
    const n = call(request.ptr, @intCast(request.len));
    if (n < 0) return error.HostCallFailed;
    const buf = allocator.alloc(u8, @intCast(n)) catch return error.BadReply;
    const got = reply(buf.ptr, n);
    if (got < 0) return error.HostCallFailed;
    const parsed = std.json.parseFromSlice(std.json.Value, allocator, buf[0..@intCast(got)], .{}) catch
        return error.BadReply;
    return parsed.value;
}
