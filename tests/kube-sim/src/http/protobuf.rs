//! Decoding of Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`)
//! into JSON, for the kinds kubectl's generator commands send that way (`kubectl create
//! namespace|job|cronjob|configmap|secret|serviceaccount|deployment`, `kubectl run`).
//!
//! The envelope is `k8s\0` + `runtime.Unknown{typeMeta, raw}`; `raw` is decoded with a small
//! hand-written table of field numbers from the Kubernetes `generated.proto` files, covering
//! the fields those commands set. Unknown fields are skipped; empty strings and unset
//! timestamps are dropped as the API server's JSON would omit them.

use serde_json::{Map, Value, json};

mod schema;

use schema::{Field, T, kind_schema};

/// One wire-format field.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Other,
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(out);
        }
    }
    Err("varint too long".into())
}

fn fields(buf: &[u8]) -> Result<Vec<(u32, Wire<'_>)>, String> {
    let (mut pos, mut out) = (0usize, Vec::new());
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let no = u32::try_from(key >> 3).map_err(|_| "bad field number")?;
        let wire = match key & 7 {
            0 => Wire::Varint(varint(buf, &mut pos)?),
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).map_err(|_| "bad length")?;
                let end = pos
                    .checked_add(len)
                    .filter(|e| *e <= buf.len())
                    .ok_or("truncated field")?;
                let b = &buf[pos..end];
                pos = end;
                Wire::Bytes(b)
            }
            1 => {
                pos += 8;
                Wire::Other
            }
            5 => {
                pos += 4;
                Wire::Other
            }
            w => return Err(format!("unsupported wire type {w}")),
        };
        out.push((no, wire));
    }
    if pos > buf.len() {
        return Err("truncated message".into());
    }
    Ok(out)
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn text(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "invalid UTF-8 string".to_owned())
}

fn map_entry(b: &[u8]) -> Result<(String, &[u8]), String> {
    let (mut k, mut v) = (String::new(), &b[..0]);
    for (no, w) in fields(b)? {
        match (no, w) {
            (1, Wire::Bytes(x)) => k = text(x)?,
            (2, Wire::Bytes(x)) => v = x,
            _ => {}
        }
    }
    Ok((k, v))
}

fn value(t: T, w: &Wire<'_>) -> Result<Option<Value>, String> {
    Ok(match (t, w) {
        (T::Int, Wire::Varint(v)) => Some(json!(*v as i64)),
        (T::Bool, Wire::Varint(v)) => Some(json!(*v != 0)),
        (T::Str, Wire::Bytes(b)) => Some(json!(text(b)?)).filter(|s| s != ""),
        (T::Msg(schema), Wire::Bytes(b)) => Some(message(schema, b)?),
        (T::Time, Wire::Bytes(b)) => {
            let secs = fields(b)?.into_iter().find_map(|(no, w)| match (no, w) {
                (1, Wire::Varint(s)) => Some(s as i64),
                _ => None,
            });
            secs.filter(|s| *s != 0)
                .and_then(|s| jiff::Timestamp::from_second(s).ok())
                .map(|t| json!(t.to_string()))
        }
        (T::IntOrStr, Wire::Bytes(b)) => {
            let (mut kind, mut int, mut s) = (0u64, 0i64, String::new());
            for (no, w) in fields(b)? {
                match (no, w) {
                    (1, Wire::Varint(v)) => kind = v,
                    (2, Wire::Varint(v)) => int = v as i64,
                    (3, Wire::Bytes(x)) => s = text(x)?,
                    _ => {}
                }
            }
            Some(if kind == 0 { json!(int) } else { json!(s) })
        }
        _ => None,
    })
}

fn message(schema: &[Field], buf: &[u8]) -> Result<Value, String> {
    let mut out = Map::new();
    for (no, w) in fields(buf)? {
        let Some(&(_, name, t, repeated)) = schema.iter().find(|f| f.0 == no) else {
            continue;
        };
        let entry_map = |out: &mut Map<String, Value>| -> Result<(), String> {
            let Wire::Bytes(b) = &w else { return Ok(()) };
            let (k, v) = map_entry(b)?;
            let val = match t {
                T::MapBytes => json!(base64(v)),
                T::MapQty => {
                    let q = fields(v)?.into_iter().find_map(|(no, w)| match (no, w) {
                        (1, Wire::Bytes(x)) => text(x).ok(),
                        _ => None,
                    });
                    json!(q.unwrap_or_default())
                }
                _ => json!(text(v)?),
            };
            let m = out.entry(name).or_insert_with(|| json!({}));
            if let Some(m) = m.as_object_mut() {
                m.insert(k, val);
            }
            Ok(())
        };
        match t {
            T::MapStr | T::MapBytes | T::MapQty => entry_map(&mut out)?,
            _ if repeated => {
                let v = match (t, &w) {
                    (T::Str, Wire::Bytes(b)) => Some(json!(text(b)?)),
                    _ => value(t, &w)?,
                };
                if let Some(v) = v {
                    let list = out.entry(name).or_insert_with(|| json!([]));
                    if let Some(a) = list.as_array_mut() {
                        a.push(v);
                    }
                }
            }
            _ => {
                if let Some(v) = value(t, &w)? {
                    out.insert(name.to_owned(), v);
                }
            }
        }
    }
    Ok(Value::Object(out))
}

/// Decodes a `k8s\0`-prefixed protobuf body into the JSON object it encodes.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let unknown = body
        .strip_prefix(b"k8s\0")
        .ok_or("missing k8s protobuf envelope")?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &unknown[..0]);
    for (no, w) in fields(unknown)? {
        match (no, w) {
            (1, Wire::Bytes(tm)) => {
                for (n, w) in fields(tm)? {
                    match (n, w) {
                        (1, Wire::Bytes(x)) => api_version = text(x)?,
                        (2, Wire::Bytes(x)) => kind = text(x)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(x)) => raw = x,
            _ => {}
        }
    }
    let schema = kind_schema(&kind).ok_or_else(|| {
        format!("protobuf bodies of kind {kind:?} are not supported by kube-sim; send JSON")
    })?;
    let mut obj = message(schema, raw)?;
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

#[cfg(test)]
mod tests;
