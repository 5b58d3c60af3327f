//! {{name}}: count the words of `text`. Build: airlock skill build <this folder>.

use airlock::Value;

fn main() {
    let args = airlock::args();
    let text = match args.get("text").and_then(|v| v.as_str()) {
        Some(t) => t.to_string(),
        None => airlock::fail("bad_arguments", "`text` is required"),
    };
    let words = text.split_whitespace().count();
    airlock::ok(Value::object(vec![("words", Value::from(words as f64))]));
}
