//! `strixc model import PATH`

use crate::cli::args::ModelCommand;
use crate::error::{Error, ExitCode};

pub fn run(command: &ModelCommand) -> Result<ExitCode, Error> {
    match command {
        ModelCommand::Import { path } => {
            let model = crate::import::import_model(path).map_err(Error::from)?;
            super::print_bytes(model.to_kdl().as_bytes())?;
            Ok(ExitCode::Ok)
        }
    }
}
