//! A small WebDriver client for the checks that must drive the built page like a learner:
//! open a page, run a script in it (awaiting its promise), find an element, type real key
//! presses into it, resize the window, take a screenshot. It starts its own ChromeDriver on a free
//! loopback port and speaks the W3C protocol to it over plain HTTP/1.1 (one request per
//! connection), so no async runtime or HTTP crate is needed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key W3C WebDriver names a web element by in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub(crate) struct Driver {
    child: Child,
    port: u16,
    session: String,
}

impl Driver {
    /// Starts ChromeDriver and a headless Chromium session with a `width`×`height` window.
    pub(crate) fn start(chromedriver: &Path, width: u32, height: u32) -> Result<Driver, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|e| format!("no free port for chromedriver: {e}"))?
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", chromedriver.display()))?;
        let mut driver = Driver { child, port, session: String::new() };
        let deadline = Instant::now() + Duration::from_secs(20);
        while driver.request("GET", "/status", None).is_err() {
            if Instant::now() > deadline {
                return Err("chromedriver did not answer within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", format!("--window-size={width},{height}"),
        ]}}}});
        let created = driver.request("POST", "/session", Some(&capabilities))?;
        driver.session = created["sessionId"].as_str().ok_or("chromedriver made no session")?.to_string();
        Ok(driver)
    }

    fn path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub(crate) fn goto(&self, url: &str) -> Result<(), String> {
        self.request("POST", &self.path("/url"), Some(&json!({ "url": url }))).map(drop)
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page and returns its
    /// value, after its promise settles when it returns one.
    pub(crate) fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        self.request("POST", &self.path("/execute/sync"), Some(&json!({ "script": script, "args": args })))
    }

    /// Polls `script` every 50 ms until it returns something truthy, for at most `limit`.
    pub(crate) fn wait_for(&self, what: &str, script: &str, limit: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + limit;
        loop {
            let value = self.execute(script, Vec::new())?;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value.as_str() != Some("")
                && value.as_f64() != Some(0.0);
            if truthy {
                return Ok(value);
            }
            if Instant::now() > deadline {
                return Err(format!("{what}: not seen within {} s", limit.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The first element matching a CSS selector.
    pub(crate) fn find(&self, selector: &str) -> Result<String, String> {
        let found =
            self.request("POST", &self.path("/element"), Some(&json!({"using": "css selector", "value": selector})))?;
        found[ELEMENT].as_str().map(String::from).ok_or_else(|| format!("no element matches `{selector}` ({found})"))
    }

    pub(crate) fn click(&self, element: &str) -> Result<(), String> {
        self.request("POST", &self.path(&format!("/element/{element}/click")), Some(&json!({}))).map(drop)
    }

    /// Presses and releases each key of `keys` in turn on whatever has focus (W3C key actions;
    /// `\u{E009}` is Control, held until it comes again).
    pub(crate) fn press(&self, keys: &str) -> Result<(), String> {
        let mut actions = Vec::new();
        let mut held = false;
        for key in keys.chars() {
            if key == '\u{E009}' {
                actions.push(json!({"type": if held { "keyUp" } else { "keyDown" }, "value": key.to_string()}));
                held = !held;
                continue;
            }
            actions.push(json!({"type": "keyDown", "value": key.to_string()}));
            actions.push(json!({"type": "keyUp", "value": key.to_string()}));
        }
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.request("POST", &self.path("/actions"), Some(&body)).map(drop)
    }

    pub(crate) fn resize(&self, width: u32, height: u32) -> Result<(), String> {
        self.request("POST", &self.path("/window/rect"), Some(&json!({"width": width, "height": height}))).map(drop)
    }

    /// Writes a PNG of the viewport to `file`.
    pub(crate) fn screenshot(&self, file: &Path) -> Result<(), String> {
        let encoded = self.request("GET", &self.path("/screenshot"), None)?;
        let png = data_encoding::BASE64
            .decode(encoded.as_str().ok_or("the screenshot is not a string")?.as_bytes())
            .map_err(|e| format!("the screenshot is not base64: {e}"))?;
        std::fs::write(file, png).map_err(|e| format!("writing {}: {e}", file.display()))
    }

    /// One WebDriver command: the response's `value`, or its error message.
    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| format!("chromedriver: {e}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(120))).map_err(|e| e.to_string())?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.port,
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body.as_bytes()))
            .map_err(|e| e.to_string())?;
        // ChromeDriver keeps the connection open despite `Connection: close`, so the body is read
        // by its Content-Length (or to the chunked encoding's last chunk).
        let mut response = Vec::new();
        let mut buffer = [0u8; 16384];
        let (split, headers) = loop {
            if let Some(split) = response.windows(4).position(|w| w == b"\r\n\r\n") {
                break (split, String::from_utf8_lossy(&response[..split]).to_ascii_lowercase());
            }
            let read = stream.read(&mut buffer).map_err(|e| format!("chromedriver: {e}"))?;
            if read == 0 {
                return Err("chromedriver closed the connection without a response".into());
            }
            response.extend_from_slice(&buffer[..read]);
        };
        let length = headers
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse::<usize>().ok());
        let chunked = headers.contains("transfer-encoding: chunked");
        loop {
            let have = response.len() - split - 4;
            let done = match length {
                Some(length) => have >= length,
                None if chunked => response.ends_with(b"0\r\n\r\n"),
                None => false,
            };
            if done {
                break;
            }
            let read = stream.read(&mut buffer).map_err(|e| format!("chromedriver: {e}"))?;
            if read == 0 {
                break;
            }
            response.extend_from_slice(&buffer[..read]);
        }
        let body = &response[split + 4..];
        let payload = if chunked {
            String::from_utf8_lossy(&dechunk(body)).into_owned()
        } else {
            String::from_utf8_lossy(body).into_owned()
        };
        let parsed: Value =
            serde_json::from_str(&payload).map_err(|e| format!("chromedriver sent no JSON ({e}): {payload}"))?;
        let value = parsed.get("value").cloned().unwrap_or(Value::Null);
        if let Some(error) = value.get("error").and_then(Value::as_str) {
            let message = value.get("message").and_then(Value::as_str).unwrap_or_default();
            return Err(format!("{method} {path}: {error}: {}", message.lines().next().unwrap_or_default()));
        }
        Ok(value)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.request("DELETE", &self.path(""), None);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of a chunked HTTP response.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..line_end]).ok().and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let after = &rest[line_end + 2..];
        let Some(size) = size.filter(|&size| size > 0 && after.len() >= size) else { break };
        out.extend_from_slice(&after[..size]);
        rest = after[size..].strip_prefix(b"\r\n").unwrap_or(&after[size..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_chunked_body() {
        assert_eq!(dechunk(b"4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n"), b"{\"a\":1}");
        assert_eq!(dechunk(b"zz\r\n"), b"");
    }
}
