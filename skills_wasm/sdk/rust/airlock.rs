//! Airlock skill SDK for Rust (std only; WASI preview1). See docs/skill-abi.md.
//!
//! ```ignore
//! let args = airlock::args();                    // the arguments object from stdin
//! let text = args.get("text").and_then(|v| v.as_str()).unwrap_or("");
//! airlock::ok(Value::object(vec![("text", Value::from(text))]));   // exits 0
//! airlock::fail("not_found", "no such thing");   // exits 1
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};

const MAX_INPUT: u64 = 1024 * 1024; // the host caps stdin at 1 MiB too
const MAX_DEPTH: usize = 64;

/// A JSON value. Objects keep their keys sorted (BTreeMap), which makes output deterministic.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Value>),
    Object(BTreeMap<String, Value>),
}

impl Value {
    pub fn object(pairs: Vec<(&str, Value)>) -> Value {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.get(key),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// Serialize as compact JSON (non-finite numbers become null: JSON has no NaN).
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }
    fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) if !n.is_finite() => out.push_str("null"),
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => {
                let _ = write!(out, "{}", *n as i64);
            }
            Value::Number(n) => {
                let _ = write!(out, "{}", n);
            }
            Value::String(s) => quote(s, out),
            Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    quote(k, out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Number(n)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parse a JSON document (strict RFC 8259, depth capped at 64).
pub fn parse(text: &str) -> Result<Value, String> {
    let mut p = Parser { s: text.as_bytes(), i: 0, depth: 0 };
    let v = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("trailing characters at byte {}", p.i));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }
    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{} at byte {}", what, self.i))
    }
    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        match self.s.get(self.i) {
            None => self.err("unexpected end of input"),
            Some(b'{') => self.container(true),
            Some(b'[') => self.container(false),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(_) => self.number(),
        }
    }
    fn literal(&mut self, word: &str, v: Value) -> Result<Value, String> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            self.err("unexpected token")
        }
    }
    fn number(&mut self) -> Result<Value, String> {
        let start = self.i;
        while self.i < self.s.len() && matches!(self.s[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).map_err(|_| "bad number".to_string())?;
        let ok = !text.is_empty()
            && !text.starts_with('+')
            && !text.starts_with('.')
            && !text.trim_start_matches('-').starts_with('.');
        match (ok, text.parse::<f64>()) {
            (true, Ok(n)) => Ok(Value::Number(n)),
            _ => Err(format!("bad number at byte {}", start)),
        }
    }
    fn hex4(&mut self) -> Result<u32, String> {
        let h = self.s.get(self.i..self.i + 4).ok_or("truncated \\u escape")?;
        let h = std::str::from_utf8(h).map_err(|_| "bad \\u escape")?;
        self.i += 4;
        u32::from_str_radix(h, 16).map_err(|_| "bad \\u escape".to_string())
    }
    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = match self.s.get(self.i) {
                None => return self.err("unterminated string"),
                Some(c) => *c,
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or("truncated escape")?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) {
                                if self.s.get(self.i..self.i + 2) != Some(b"\\u") {
                                    return self.err("lone surrogate");
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return self.err("bad surrogate pair");
                                }
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            }
                            char::from_u32(cp).ok_or("lone surrogate")?
                        }
                        _ => return self.err("bad escape"),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return self.err("control character in string"),
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| "string is not UTF-8".to_string())
    }
    fn container(&mut self, object: bool) -> Result<Value, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("nested too deeply");
        }
        self.i += 1;
        let close = if object { b'}' } else { b']' };
        let mut map = BTreeMap::new();
        let mut items = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&close) {
            self.i += 1;
        } else {
            loop {
                self.ws();
                if object {
                    if self.s.get(self.i) != Some(&b'"') {
                        return self.err("expected a string key");
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.s.get(self.i) != Some(&b':') {
                        return self.err("expected ':'");
                    }
                    self.i += 1;
                    let v = self.value()?;
                    map.insert(k, v);
                } else {
                    items.push(self.value()?);
                }
                self.ws();
                match self.s.get(self.i) {
                    Some(b',') => self.i += 1,
                    Some(c) if *c == close => {
                        self.i += 1;
                        break;
                    }
                    _ => return self.err("expected ',' or a closing bracket"),
                }
            }
        }
        self.depth -= 1;
        Ok(if object { Value::Object(map) } else { Value::Array(items) })
    }
}

/// The arguments object from stdin; fails with `bad_arguments` if it is not one.
pub fn args() -> Value {
    let mut text = String::new();
    if std::io::stdin().take(MAX_INPUT + 1).read_to_string(&mut text).is_err() {
        fail("bad_arguments", "arguments are not UTF-8 text");
    }
    if text.len() as u64 > MAX_INPUT {
        fail("bad_arguments", "arguments are over 1 MiB");
    }
    match parse(&text) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => fail("bad_arguments", "arguments must be a JSON object"),
        Err(e) => fail("bad_arguments", &format!("arguments are not valid JSON: {}", e)),
    }
}

/// Print `result` and exit 0.
pub fn ok(result: Value) -> ! {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}", result.to_json());
    let _ = out.flush();
    std::process::exit(0)
}

/// Print `{"error": {"code": code, "message": message}}` and exit 1.
pub fn fail(code: &str, message: &str) -> ! {
    let err = Value::object(vec![("code", code.into()), ("message", message.into())]);
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}", Value::object(vec![("error", err)]).to_json());
    let _ = out.flush();
    std::process::exit(1)
}

#[link(wasm_import_module = "airlock")]
extern "C" {
    #[link_name = "call"]
    fn airlock_call(ptr: *const u8, len: i32) -> i32;
    #[link_name = "reply"]
    fn airlock_reply(ptr: *mut u8, len: i32) -> i32;
}

/// Send one host-call request document and return the reply document ({"v":1,"ok":...}).
/// Err carries why the transport failed (budget exhausted, no host calls for this run...).
pub fn call(request: &Value) -> Result<Value, String> {
    let req = request.to_json();
    let n = unsafe { airlock_call(req.as_ptr(), req.len() as i32) };
    if n < 0 {
        return Err(match n {
            -2 => "request too large (over 64 KiB)",
            -3 => "host-call budget for this run exhausted",
            -4 => "this run has no host calls",
            _ => "request outside memory",
        }
        .to_string());
    }
    let mut buf = vec![0u8; n as usize];
    let got = unsafe { airlock_reply(buf.as_mut_ptr(), n) };
    if got < 0 {
        return Err(format!("reply failed ({})", got));
    }
    buf.truncate(got as usize);
    let text = String::from_utf8(buf).map_err(|_| "reply is not UTF-8".to_string())?;
    parse(&text)
}
