//! "Did you mean": the closest known name, as casey/just picks it.

/// The candidate nearest to `wrong` by edit distance, if it is close enough to be a typo
/// (distance below 3, and below the word's own length so short words don't match anything).
pub fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::levenshtein(wrong, candidate), candidate))
        .filter(|&(distance, candidate)| {
            distance < 3 && distance < wrong.len().max(candidate.len()) && distance > 0
        })
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let known = ["context", "port", "model"];
        assert_eq!(did_you_mean("contxt", known), Some("context"));
        assert_eq!(did_you_mean("prot", known), Some("port"));
        assert_eq!(did_you_mean("xyz", known), None);
        assert_eq!(did_you_mean("context", known), None);
    }
}
