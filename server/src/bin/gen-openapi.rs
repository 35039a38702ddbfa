//! Writes the OpenAPI document generated from the server's routes, for `cargo xtask openapi`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: gen-openapi <output.json>");
        return ExitCode::FAILURE;
    };
    let json = match lvs_server::api::openapi().to_pretty_json() {
        Ok(json) => json + "\n",
        Err(error) => {
            eprintln!("gen-openapi: cannot serialise the document: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = std::fs::write(&path, json) {
        eprintln!("gen-openapi: cannot write {path}: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
