//! Round trips of stored values, blobs and escaping styles.

use super::*;

fn round_trip(value: &Value) -> (Value, Encoder) {
    let mut encoder = Encoder::new();
    let stored = encoder.value(value);
    let blobs: HashMap<Vec<u8>, Vec<u8>> = encoder
        .blobs
        .iter()
        .map(|(k, v)| (k.to_vec(), v.clone()))
        .collect();
    let decoded = Decoder { blobs: &blobs }.value(&stored).expect("decodes");
    (decoded, encoder)
}

fn long(text: &str) -> String {
    text.repeat(MIN_BLOB_BYTES / text.len() + 1)
}

#[test]
fn json_conversation_shares_message_blobs_with_plain_text() {
    let answer = long("Whisk two eggs, add salt. ");
    let messages = serde_json::json!([
        {"role": "user", "parts": [{"type": "text", "content": long("How do I make an omelette? ")}]},
        {"role": "assistant", "parts": [{"type": "text", "content": answer}]},
    ]);
    let value = Value::String(messages.to_string());
    let (decoded, encoder) = round_trip(&value);
    assert_eq!(decoded, value);
    assert!(encoder.blobs.contains_key(&blob_hash(answer.as_bytes())));
    assert_eq!(encoder.blobs.len(), 2);
}

#[test]
fn python_and_go_escaping_round_trip_exactly() {
    let text = long("Ünïcödé \"quoted\" <b>&</b>\n\ttab 😀 ");
    let python_style = {
        let mut s = String::from("[\"");
        Escape::JsonAscii.apply(&text, &mut s);
        s.push_str("\"]");
        s
    };
    let go_style = {
        let mut s = String::from("{\"k\": \"");
        Escape::JsonHtml.apply(&text, &mut s);
        s.push_str("\"}");
        s
    };
    for json in [python_style, go_style] {
        let value = Value::String(json);
        let (decoded, encoder) = round_trip(&value);
        assert_eq!(decoded, value);
        assert!(encoder.blobs.contains_key(&blob_hash(text.as_bytes())));
    }
}

#[test]
fn unusual_escapes_are_kept_literally_and_still_exact() {
    // Upper-case hex escapes match no known encoder: kept as a literal.
    let body = long("caf\\u00E9 ");
    let value = Value::String(format!("[\"{body}\"]"));
    let (decoded, _) = round_trip(&value);
    assert_eq!(decoded, value);
}

#[test]
fn invalid_json_and_plain_text_round_trip() {
    for text in [
        long("plain prose "),
        format!("[\"{}", long("unterminated ")),
    ] {
        let value = Value::String(text);
        let (decoded, _) = round_trip(&value);
        assert_eq!(decoded, value);
    }
}

proptest::proptest! {
    #[test]
    fn one_pass_unescaping_agrees_with_every_escaping_style(text in "\\PC{0,40}[\\x00-\\x1f<>&\u{2028}\u{e9}\u{1f600}\"\\\\]{0,8}\\PC{0,20}") {
        for style in [Escape::Json, Escape::JsonAscii, Escape::JsonHtml] {
            let mut body = String::new();
            style.apply(&text, &mut body);
            let (back, found) = unescape(&body).expect("a style reproduces it");
            proptest::prop_assert_eq!(&back, &text);
            let mut again = String::new();
            found.apply(&back, &mut again);
            proptest::prop_assert_eq!(again, body);
        }
    }
}

#[test]
fn escapes_no_style_writes_are_left_alone() {
    for body in ["a\\/b", "caf\\u00E9", "\\u0041", "tab\\u0009", "x\\ud800"] {
        assert!(unescape(body).is_none(), "{body}");
    }
}

#[test]
fn large_bytes_become_a_blob() {
    let value = Value::Bytes(vec![7u8; 500]);
    let (decoded, encoder) = round_trip(&value);
    assert_eq!(decoded, value);
    assert_eq!(encoder.blobs.len(), 1);
}

mod properties {
    //! Round trips through the whole stored form: `Encoder`, prost bytes,
    //! `Decoder`. The strings that matter most are JSON documents whose
    //! long literals were escaped by real encoders, so the strategies
    //! build those with escapers written here independently of
    //! [`Escape`]: serde_json itself, Python's `json.dumps` rules and
    //! Go's `encoding/json` rules.

    use super::*;
    use proptest::prelude::*;
    use prost::Message as _;

    /// Python's `ensure_ascii`: everything outside printable ASCII as `\uXXXX`.
    fn python_escaped(text: &str) -> String {
        let mut out = String::from("\"");
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                ' '..='~' => out.push(c),
                c => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
        }
        out.push('"');
        out
    }

    /// Go's `json.Marshal`: serde_json's escaping plus HTML-safe characters.
    fn go_escaped(text: &str) -> String {
        serde_json::to_string(text)
            .expect("a string serializes")
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029")
    }

    /// Text that every style can reproduce exactly. DEL (U+007F) is left
    /// out: Python escapes it and the `JsonAscii` mode does not, so such
    /// a literal is kept inline (still exact, only not shared).
    fn message_text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 .,!?\"\\\\<>&\n\t\u{1}\u{1f}é中😀\u{2028}]{1,40}"
            .prop_map(|text| text.repeat(MIN_BLOB_BYTES / text.len() + 1))
    }

    #[derive(Clone, Debug)]
    enum Style {
        Serde,
        Python,
        Go,
    }

    fn escaped(text: &str, style: &Style) -> String {
        match style {
            Style::Serde => serde_json::to_string(text).expect("a string serializes"),
            Style::Python => python_escaped(text),
            Style::Go => go_escaped(text),
        }
    }

    fn style() -> impl Strategy<Value = Style> {
        prop_oneof![Just(Style::Serde), Just(Style::Python), Just(Style::Go)]
    }

    /// A chat as one JSON string attribute, each message escaped in its
    /// own style, and the texts it carries.
    fn json_conversation() -> impl Strategy<Value = (String, Vec<String>)> {
        prop::collection::vec((message_text(), style(), "[a-z]{0,8}"), 1..5).prop_map(|messages| {
            let mut json = String::from("[");
            let mut texts = Vec::new();
            for (i, (text, style, role)) in messages.into_iter().enumerate() {
                if i > 0 {
                    json.push_str(", ");
                }
                json.push_str(&format!(
                    "{{\"role\": \"{role}\", \"content\": {}}}",
                    escaped(&text, &style)
                ));
                texts.push(text);
            }
            json.push(']');
            (json, texts)
        })
    }

    /// Strings the splitter must not get wrong: anything at all, long
    /// prose, JSON of real encoders, and JSON-looking text with odd or
    /// broken escapes and unterminated literals.
    fn any_string() -> impl Strategy<Value = String> {
        let odd_escapes = prop::collection::vec(
            prop_oneof![
                message_text(),
                Just("\\u00E9".to_owned()),
                Just("\\ud83d\\ude00".to_owned()),
                Just("\\ud800".to_owned()),
                Just("\\/".to_owned()),
                Just("\\".to_owned()),
                Just("\"".to_owned()),
                Just("\\u007f".to_owned()),
            ],
            1..6,
        )
        .prop_map(|pieces| format!("{{\"k\": \"{}\"}}", pieces.concat()));
        prop_oneof![
            any::<String>(),
            message_text(),
            json_conversation().prop_map(|(json, _)| json),
            odd_escapes,
        ]
    }

    fn double() -> impl Strategy<Value = f64> {
        use prop::num::f64;
        // NaN round-trips too (see `nan_round_trips_bit_for_bit`), but
        // is not equal to itself, so `==` cannot compare trees holding it.
        f64::POSITIVE | f64::NEGATIVE | f64::NORMAL | f64::SUBNORMAL | f64::ZERO | f64::INFINITE
    }

    fn any_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Empty),
            any_string().prop_map(Value::String),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            double().prop_map(Value::Double),
            prop::collection::vec(any::<u8>(), 0..300).prop_map(Value::Bytes),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(("[a-z._]{0,12}", inner), 0..6).prop_map(|kvs| {
                    Value::KvList(kvs.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect())
                }),
            ]
        })
    }

    /// Encodes, serializes with prost, parses and decodes.
    fn through_storage(value: &Value) -> (Value, Encoder) {
        let mut encoder = Encoder::new();
        let bytes = encoder.value(value).encode_to_vec();
        let blobs: HashMap<Vec<u8>, Vec<u8>> = encoder
            .blobs
            .iter()
            .map(|(k, v)| (k.to_vec(), v.clone()))
            .collect();
        let stored = StoredValue::decode(bytes.as_slice()).expect("stored bytes parse");
        let decoded = Decoder { blobs: &blobs }.value(&stored).expect("decodes");
        (decoded, encoder)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_value_round_trips_exactly(value in any_value()) {
            let (decoded, _) = through_storage(&value);
            prop_assert_eq!(decoded, value);
        }

        #[test]
        fn every_referenced_blob_is_handed_to_the_caller(value in any_value()) {
            let mut encoder = Encoder::new();
            let stored = encoder.value(&value);
            let mut hashes = Vec::new();
            collect_hashes(&stored, &mut hashes);
            for hash in hashes {
                let hash: BlobHash = hash.as_slice().try_into().expect("16-byte hash");
                prop_assert!(encoder.blobs.contains_key(&hash));
            }
        }

        #[test]
        fn escaped_message_texts_become_blobs_of_their_plain_text(
            (json, texts) in json_conversation(),
        ) {
            let value = Value::String(json);
            let (decoded, encoder) = through_storage(&value);
            prop_assert_eq!(&decoded, &value);
            for text in texts {
                prop_assert!(
                    encoder.blobs.contains_key(&blob_hash(text.as_bytes())),
                    "no blob of {:?}", text
                );
            }
        }
    }

    #[test]
    fn nan_round_trips_bit_for_bit() {
        let nan = f64::from_bits(0x7ff8_0000_0000_0001);
        let (decoded, _) = through_storage(&Value::Double(nan));
        let Value::Double(back) = decoded else {
            panic!("a double comes back as a double, got {decoded:?}");
        };
        assert_eq!(back.to_bits(), nan.to_bits());
    }
}
