//! `vllm serve MODEL FLAGS...`: exactly the flags strixc writes, with vLLM's value shapes
//! and its argument parser's messages.

use std::net::IpAddr;

/// What `vllm serve` was asked to do, after checking every flag.
#[derive(Debug, PartialEq)]
pub struct Serve {
    pub model: String,
    pub host: IpAddr,
    pub port: u16,
    pub max_model_len: u64,
    pub max_num_seqs: u64,
    pub gpu_memory_utilization: f64,
}

/// Flags whose value is one of a list, and the list.
const CHOICES: [(&str, &[&str]); 3] = [
    (
        "--quantization",
        &["awq", "gptq", "marlin", "fp8", "awq_marlin"],
    ),
    (
        "--dtype",
        &["auto", "half", "float16", "bfloat16", "float", "float32"],
    ),
    ("--kv-cache-dtype", &["auto", "fp8", "fp8_e4m3", "fp8_e5m2"]),
];

/// Parses `serve MODEL FLAGS...` as vLLM does for the flags strixc writes; the first
/// problem is the error.
pub fn parse(args: &[String]) -> Result<Serve, String> {
    let mut args = args.iter();
    let model = subcommand_and_model(&mut args)?;
    let mut flags = Flags::default();
    let mut seen: Vec<&str> = Vec::new();
    while let Some(flag) = args.next() {
        let flag = flag.as_str();
        if seen.contains(&flag) {
            return Err(format!("argument {flag}: given twice"));
        }
        seen.push(flag);
        let value = || {
            args.next()
                .filter(|v| !v.starts_with("--"))
                .map(String::as_str)
                .ok_or_else(|| format!("argument {flag}: expected one argument"))
        };
        flags.set(flag, value)?;
    }
    flags.serve(model)
}

fn subcommand_and_model<'a>(args: &mut impl Iterator<Item = &'a String>) -> Result<String, String> {
    match args.next().map(String::as_str) {
        Some("serve") => {}
        Some(other) => return Err(format!("invalid choice: '{other}' (choose from serve)")),
        None => return Err("a subcommand is required (serve)".into()),
    }
    match args.next() {
        Some(m) if !m.starts_with("--") && !m.is_empty() => Ok(m.clone()),
        _ => Err("the following arguments are required: model_tag".into()),
    }
}

/// The flags read so far.
#[derive(Default)]
struct Flags {
    host: Option<IpAddr>,
    port: Option<u16>,
    max_model_len: Option<u64>,
    max_num_seqs: Option<u64>,
    utilization: Option<f64>,
    tool_choice: bool,
    tool_parser: bool,
}

impl Flags {
    /// Reads `flag`, taking its value from `value` when it has one.
    fn set<'a>(
        &mut self,
        flag: &str,
        mut value: impl FnMut() -> Result<&'a str, String>,
    ) -> Result<(), String> {
        if let Some((_, choices)) = CHOICES.iter().find(|(f, _)| *f == flag) {
            one_of(flag, value()?, choices)?;
            return Ok(());
        }
        match flag {
            "--host" => self.host = Some(number::<IpAddr>(flag, value()?, "IP address")?),
            "--port" => self.port = Some(port(flag, value()?)?),
            "--gpu-memory-utilization" => self.utilization = Some(utilization(flag, value()?)?),
            "--max-model-len" => self.max_model_len = Some(positive(flag, value()?)?),
            "--max-num-seqs" => self.max_num_seqs = Some(positive(flag, value()?)?),
            "--tool-call-parser" => {
                parser_name(flag, value()?)?;
                self.tool_parser = true;
            }
            "--enforce-eager" | "--enable-prefix-caching" => {}
            "--enable-auto-tool-choice" => self.tool_choice = true,
            other => return Err(format!("unrecognized arguments: {other}")),
        }
        Ok(())
    }

    /// vLLM's defaults for what was not given.
    fn serve(self, model: String) -> Result<Serve, String> {
        if self.tool_choice && !self.tool_parser {
            return Err("--enable-auto-tool-choice requires --tool-call-parser".into());
        }
        Ok(Serve {
            model,
            host: self.host.unwrap_or(IpAddr::from([0, 0, 0, 0])),
            port: self.port.unwrap_or(8000),
            max_model_len: self.max_model_len.unwrap_or(4096),
            max_num_seqs: self.max_num_seqs.unwrap_or(256),
            gpu_memory_utilization: self.utilization.unwrap_or(0.9),
        })
    }
}

fn one_of(flag: &str, value: &str, choices: &[&str]) -> Result<String, String> {
    if choices.contains(&value) {
        Ok(value.to_string())
    } else {
        Err(format!(
            "argument {flag}: invalid choice: '{value}' (choose from {})",
            choices.join(", ")
        ))
    }
}

fn number<T: std::str::FromStr>(flag: &str, value: &str, kind: &str) -> Result<T, String> {
    value
        .parse::<T>()
        .map_err(|_| format!("argument {flag}: invalid {kind} value: '{value}'"))
}

fn port(flag: &str, v: &str) -> Result<u16, String> {
    Some(number::<u16>(flag, v, "int")?)
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("argument {flag}: invalid port: '{v}'"))
}

fn utilization(flag: &str, v: &str) -> Result<f64, String> {
    let u = number::<f64>(flag, v, "float")?;
    if !(u > 0.0 && u <= 1.0) {
        return Err(format!("argument {flag}: must be in (0, 1], got '{v}'"));
    }
    Ok(u)
}

fn positive(flag: &str, v: &str) -> Result<u64, String> {
    let n = number::<u64>(flag, v, "int")?;
    if n == 0 {
        return Err(format!("argument {flag}: must be positive, got '{v}'"));
    }
    Ok(n)
}

fn parser_name(flag: &str, v: &str) -> Result<(), String> {
    let valid = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !valid {
        return Err(format!("argument {flag}: invalid parser name: '{v}'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn accepts_what_strixc_writes() {
        let serve = parse(&args(
            "serve Qwen/Qwen2.5-7B-Instruct-AWQ --host 127.0.0.1 --port 8001 --quantization awq \
             --dtype float16 --enforce-eager --gpu-memory-utilization 0.25 --max-model-len 32768 \
             --max-num-seqs 4 --kv-cache-dtype auto --enable-prefix-caching \
             --enable-auto-tool-choice --tool-call-parser hermes",
        ))
        .unwrap();
        assert_eq!(serve.port, 8001);
        assert_eq!(serve.max_model_len, 32768);
        assert_eq!(serve.gpu_memory_utilization, 0.25);
    }

    #[test]
    fn refuses_unknown_flags_and_bad_values() {
        let base = "serve m --host 127.0.0.1 --port 8001";
        for (extra, says) in [
            ("--frobnicate", "unrecognized arguments: --frobnicate"),
            ("--gpu-memory-utilization 1.5", "must be in (0, 1]"),
            ("--gpu-memory-utilization x", "invalid float value"),
            ("--max-model-len 0", "must be positive"),
            ("--kv-cache-dtype fp4", "invalid choice: 'fp4'"),
            ("--quantization int3", "invalid choice: 'int3'"),
            ("--enable-auto-tool-choice", "requires --tool-call-parser"),
            ("--port 8002", "given twice"),
            ("--max-num-seqs", "expected one argument"),
        ] {
            let err = parse(&args(&format!("{base} {extra}"))).unwrap_err();
            assert!(err.contains(says), "{extra}: {err}");
        }
        assert!(parse(&args("serve --host 127.0.0.1")).is_err());
        assert!(parse(&args("run m")).is_err());
        assert!(parse(&args("serve m --host localhost")).is_err());
    }
}
