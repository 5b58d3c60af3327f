//! calc: evaluate an arithmetic expression: + - * / % ^, parentheses, unary minus, decimals.
//!
//! Grammar (precedence low to high; ^ is right-associative and binds tighter than unary minus,
//! so -2^2 = -4 as in mathematics):
//!   expr   = term (("+" | "-") term)*
//!   term   = unary (("*" | "/" | "%") unary)*
//!   unary  = ("-" | "+") unary | power
//!   power  = atom ("^" unary)?
//!   atom   = number | "(" expr ")"

use airlock::Value;

const MAX_LEN: usize = 1000;
const MAX_DEPTH: usize = 100; // nesting of parentheses and unary signs

struct Calc<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

type R = Result<f64, (&'static str, String)>;

fn syntax(msg: String) -> (&'static str, String) {
    ("syntax_error", msg)
}

impl<'a> Calc<'a> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }
    fn describe(&self) -> String {
        match self.s.get(self.i) {
            None => "the end of the expression".to_string(),
            Some(c) => format!("'{}' at position {}", *c as char, self.i + 1),
        }
    }
    fn expr(&mut self) -> R {
        let mut v = self.term()?;
        while let Some(op @ (b'+' | b'-')) = self.peek() {
            self.i += 1;
            let r = self.term()?;
            v = if op == b'+' { v + r } else { v - r };
        }
        Ok(v)
    }
    fn term(&mut self) -> R {
        let mut v = self.unary()?;
        while let Some(op @ (b'*' | b'/' | b'%')) = self.peek() {
            let at = self.i + 1;
            self.i += 1;
            let r = self.unary()?;
            if op != b'*' && r == 0.0 {
                return Err(("division_by_zero", format!("division by zero at position {}", at)));
            }
            v = match op {
                b'*' => v * r,
                b'/' => v / r,
                _ => v % r,
            };
        }
        Ok(v)
    }
    fn unary(&mut self) -> R {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(syntax(format!("nested more than {} levels deep", MAX_DEPTH)));
        }
        let v = match self.peek() {
            Some(b'-') => {
                self.i += 1;
                -self.unary()?
            }
            Some(b'+') => {
                self.i += 1;
                self.unary()?
            }
            _ => self.power()?,
        };
        self.depth -= 1;
        Ok(v)
    }
    fn power(&mut self) -> R {
        let base = self.atom()?;
        if self.peek() == Some(b'^') {
            self.i += 1;
            let exp = self.unary()?;
            return Ok(base.powf(exp));
        }
        Ok(base)
    }
    fn atom(&mut self) -> R {
        match self.peek() {
            Some(b'(') => {
                let open = self.i + 1;
                self.i += 1;
                let v = self.expr()?;
                if self.peek() != Some(b')') {
                    return Err(syntax(format!(
                        "expected ')' to close the '(' at position {}, found {}",
                        open,
                        self.describe()
                    )));
                }
                self.i += 1;
                Ok(v)
            }
            Some(c) if c.is_ascii_digit() || c == b'.' => self.number(),
            _ => Err(syntax(format!("expected a number or '(', found {}", self.describe()))),
        }
    }
    fn number(&mut self) -> R {
        let start = self.i;
        let mut dots = 0;
        while let Some(&c) = self.s.get(self.i) {
            if c == b'.' {
                dots += 1;
            } else if !c.is_ascii_digit() {
                break;
            }
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        if dots > 1 || text == "." {
            return Err(syntax(format!("malformed number '{}' at position {}", text, start + 1)));
        }
        text.parse::<f64>()
            .map_err(|_| syntax(format!("malformed number '{}' at position {}", text, start + 1)))
    }
}

fn main() {
    let args = airlock::args();
    let expression = match args.get("expression").and_then(|v| v.as_str()) {
        Some(e) => e.to_string(),
        None => airlock::fail("bad_arguments", "`expression` (a string) is required"),
    };
    if expression.len() > MAX_LEN {
        airlock::fail("bad_arguments", &format!("expression is over {} characters", MAX_LEN));
    }
    let mut calc = Calc { s: expression.as_bytes(), i: 0, depth: 0 };
    let value = match calc.expr() {
        Ok(v) => v,
        Err((code, msg)) => airlock::fail(code, &msg),
    };
    if calc.peek().is_some() {
        let found = calc.describe();
        airlock::fail("syntax_error", &format!("unexpected {}", found));
    }
    if !value.is_finite() {
        airlock::fail("not_finite", "the result is not a finite number (overflow or 0^-1)");
    }
    airlock::ok(Value::object(vec![
        ("expression", expression.as_str().into()),
        ("value", value.into()),
    ]));
}
