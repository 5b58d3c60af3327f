//! clock: the current date and time (WASI clock_time_get), at a given UTC offset.

const std = @import("std");
const airlock = @import("airlock");
const wasi = std.os.wasi;

const weekdays = [_][]const u8{ "Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday" };

/// Parse "+HH:MM" / "-HH:MM" / "Z" into minutes east of UTC.
fn parseOffset(s: []const u8) ?i64 {
    if (std.mem.eql(u8, s, "Z")) return 0;
    if (s.len != 6 or (s[0] != '+' and s[0] != '-') or s[3] != ':') return null;
    const h = std.fmt.parseInt(i64, s[1..3], 10) catch return null;
    const m = std.fmt.parseInt(i64, s[4..6], 10) catch return null;
    if (h > 14 or m > 59) return null;
    const total = h * 60 + m;
    return if (s[0] == '-') -total else total;
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil(days: i64) [3]i64 {
    const z = days + 719468;
    const era = @divFloor(z, 146097);
    const doe = z - era * 146097;
    const yoe = @divFloor(doe - @divFloor(doe, 1460) + @divFloor(doe, 36524) - @divFloor(doe, 146096), 365);
    const doy = doe - (365 * yoe + @divFloor(yoe, 4) - @divFloor(yoe, 100));
    const mp = @divFloor(5 * doy + 2, 153);
    const d = doy - @divFloor(153 * mp + 2, 5) + 1;
    const m = if (mp < 10) mp + 3 else mp - 9;
    const y = yoe + era * 400 + @as(i64, if (m <= 2) 1 else 0);
    return .{ y, m, d };
}

pub fn main() void {
    const args = airlock.args();
    const offset_text = airlock.argString(args, "utc_offset", "+00:00").?;
    const offset = parseOffset(offset_text) orelse
        airlock.failf("bad_arguments", "utc_offset {s} is not +HH:MM, -HH:MM or Z (at most 14 hours)", .{offset_text});

    var ns: wasi.timestamp_t = 0;
    if (wasi.clock_time_get(.REALTIME, 1_000_000, &ns) != .SUCCESS)
        airlock.fail("clock_unavailable", "the host gives no real-time clock");
    const unix: i64 = @intCast(ns / 1_000_000_000);
    const local = unix + offset * 60;
    const days = @divFloor(local, 86400);
    const secs = local - days * 86400;
    const ymd = civil(days);
    const weekday = weekdays[@intCast(@mod(days, 7))];
    const sign: u8 = if (offset < 0) '-' else '+';
    const abs: u64 = @intCast(if (offset < 0) -offset else offset);

    var date_buf: [16]u8 = undefined;
    const date = std.fmt.bufPrint(&date_buf, "{d:0>4}-{d:0>2}-{d:0>2}", .{
        @as(u64, @intCast(ymd[0])), @as(u64, @intCast(ymd[1])), @as(u64, @intCast(ymd[2])),
    }) catch unreachable;
    var time_buf: [16]u8 = undefined;
    const time = std.fmt.bufPrint(&time_buf, "{d:0>2}:{d:0>2}:{d:0>2}", .{
        @as(u64, @intCast(@divFloor(secs, 3600))), @as(u64, @intCast(@mod(@divFloor(secs, 60), 60))), @as(u64, @intCast(@mod(secs, 60))),
    }) catch unreachable;
    var off_buf: [8]u8 = undefined;
    const off = std.fmt.bufPrint(&off_buf, "{c}{d:0>2}:{d:0>2}", .{ sign, abs / 60, abs % 60 }) catch unreachable;
    var iso_buf: [40]u8 = undefined;
    const iso = std.fmt.bufPrint(&iso_buf, "{s}T{s}{s}", .{ date, time, off }) catch unreachable;

    var out = airlock.Json.init();
    out.beginObject();
    out.key("iso");
    out.string(iso);
    out.key("date");
    out.string(date);
    out.key("time");
    out.string(time);
    out.key("weekday");
    out.string(weekday);
    out.key("utc_offset");
    out.string(off);
    out.key("unix");
    out.int(unix);
    out.endObject();
    airlock.ok(&out);
}
