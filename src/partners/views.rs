//! Partner client requests and answers.

/// The longest client name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// A client's name, trimmed: 1 to 100 characters.
pub fn client_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("expected 1 to {MAX_NAME_CHARS} characters"));
    }
    Ok(name.to_owned())
}
