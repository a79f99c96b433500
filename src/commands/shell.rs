//! `canary completions SHELL` and `canary man`: the completion scripts and the manual page,
//! generated from the same command line the binary parses (so they never drift from it).

use crate::cli::{Cli, CompletionsArgs};
use crate::error::CanaryError;
use crate::model::Verdict;
use clap::CommandFactory;
use std::io::Write;

/// Writes the completion script of `args.shell` on stdout.
pub fn completions(args: &CompletionsArgs) -> Result<Verdict, CanaryError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "canary", &mut script);
    write_stdout(&script)
}

/// Writes the manual page (roff) on stdout: the top command, then a section per subcommand (clap's
/// generated `help` subcommands left out).
pub fn man() -> Result<Verdict, CanaryError> {
    let mut command = Cli::command();
    // Building names every subcommand for its synopsis: `canary import kayenta`.
    command.build();
    let mut page = Vec::new();
    let render = |page: &mut Vec<u8>| -> std::io::Result<()> {
        let man = clap_mangen::Man::new(command.clone());
        man.render_title(page)?;
        man.render_name_section(page)?;
        man.render_synopsis_section(page)?;
        man.render_description_section(page)?;
        man.render_options_section(page)?;
        for subcommand in command.get_subcommands().filter(|sub| sub.get_name() != "help") {
            subcommand_section(page, subcommand)?;
        }
        man.render_extra_section(page)?;
        man.render_version_section(page)
    };
    render(&mut page).map_err(CanaryError::Output)?;
    write_stdout(&page)
}

/// A `.SH` section for a subcommand (`CANARY JUDGE`): its synopsis, description and options as
/// sub-sections, then its own subcommands the same way (`CANARY IMPORT KAYENTA`).
fn subcommand_section(page: &mut Vec<u8>, command: &clap::Command) -> std::io::Result<()> {
    let name = command.get_bin_name().unwrap_or_else(|| command.get_name());
    writeln!(page, ".SH \"{}\"", name.to_uppercase())?;
    let man = clap_mangen::Man::new(command.clone());
    let mut body = Vec::new();
    man.render_synopsis_section(&mut body)?;
    man.render_description_section(&mut body)?;
    man.render_options_section(&mut body)?;
    page.extend(String::from_utf8_lossy(&body).replace(".SH ", ".SS ").into_bytes());
    for child in command.get_subcommands().filter(|sub| sub.get_name() != "help") {
        subcommand_section(page, child)?;
    }
    Ok(())
}

fn write_stdout(bytes: &[u8]) -> Result<Verdict, CanaryError> {
    let mut out = std::io::stdout().lock();
    CanaryError::stdout(out.write_all(bytes).and_then(|()| out.flush()))?;
    Ok(Verdict::Pass)
}
