//! {{name}}: count the words of `text`. Build: airlock skill build <this folder>.

const std = @import("std");
const airlock = @import("airlock");

pub fn main() void {
    const args = airlock.args();
    const text = airlock.argString(args, "text", null) orelse
        airlock.fail("bad_arguments", "`text` is required");
    var words: i64 = 0;
    var in_word = false;
    for (text) |c| {
        const space = std.ascii.isWhitespace(c);
        if (!space and !in_word) words += 1;
        in_word = !space;
    }
    var out = airlock.Json.init();
    out.beginObject();
    out.key("words");
    out.int(words);
    out.endObject();
    airlock.ok(&out);
}
