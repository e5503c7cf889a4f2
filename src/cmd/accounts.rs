//! `upsight accounts list|show|search|add|new|link|follow`: the Accounts screen, the New Account
//! dialog and the Account Setup dialog, from the command line.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};
use upsight_core::{Account, Opportunity};
use upsight_engine::progress::no_progress;
use upsight_engine::{Engine, EngineError};

use super::output::print_json;

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// List local accounts with their key fields.
    List,
    /// Show one account: fields, quick links, opportunities and unpushed edits.
    Show {
        /// A local id or a Salesforce Id (or record URL).
        account: String,
    },
    /// Search Salesforce accounts by name, without adding anything.
    Search {
        /// Part of the name; quotes, % and _ match literally.
        text: String,
    },
    /// Add accounts from Salesforce by Id or record URL (and sync them), or create one by
    /// hand with --name.
    Add(AddArgs),
    /// Create a local account by hand, with no Salesforce Id (link it later).
    New {
        #[arg(long)]
        name: String,
    },
    /// Follow an account Salesforce merged into another: keep its local data and change
    /// log (unpushed edits included) on the record that was kept, and sync from it.
    Follow {
        /// A local id or the merged account's Salesforce Id.
        account: String,
    },
    /// Link a local account to a Salesforce Id or record URL, and sync it.
    Link {
        /// A local id.
        account: String,
        #[arg(long = "sf-id", value_name = "ID_OR_URL")]
        sf_id: String,
    },
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("source").required(true).multiple(true))]
pub struct AddArgs {
    /// Account Ids or record URLs (`upsight accounts add 001… https://…/view`).
    #[arg(value_name = "ID_OR_URL", group = "source")]
    pub ids: Vec<String>,
    /// An Account Id or record URL; repeat for several.
    #[arg(long = "sf-id", value_name = "ID_OR_URL", group = "source")]
    pub sf_ids: Vec<String>,
    /// A file of Ids or record URLs, one per line (blank lines and # comments ignored).
    #[arg(long = "sf-id-file", value_name = "PATH", group = "source")]
    pub sf_id_file: Option<PathBuf>,
    /// Create a local account with this name and no Salesforce Id.
    #[arg(long, group = "source", conflicts_with_all = ["ids", "sf_ids", "sf_id_file"])]
    pub name: Option<String>,
}

pub fn run(engine: &Engine, json: bool, command: AccountsCommand) -> Result<u8, EngineError> {
    match command {
        AccountsCommand::List => list(engine, json),
        AccountsCommand::Show { account } => show(engine, json, &account),
        AccountsCommand::Search { text } => search(engine, json, &text),
        AccountsCommand::Add(args) => add(engine, json, args),
        AccountsCommand::New { name } => new(engine, json, &name),
        AccountsCommand::Link { account, sf_id } => link(engine, json, &account, &sf_id),
        AccountsCommand::Follow { account } => follow(engine, json, &account),
    }
}

fn follow(engine: &Engine, json: bool, account: &str) -> Result<u8, EngineError> {
    let (record, _) = engine
        .edits()
        .find_record(&upsight_engine::RecordSpec::Account(account.to_owned()))?;
    let upsight_core::RecordRef::Account(id) = record else {
        return Err(EngineError::AccountNotFound(account.to_owned()));
    };
    let summary = engine.sync().follow_merge(id)?;
    let followed = engine.store().get_account(id)?;
    if json {
        print_json(&json!({"account": account_json(&followed), "sync": summary}));
    } else {
        outln!(
            "{} now follows {} (the record Salesforce kept); synced in {} ms",
            followed.name,
            followed.sf_id.as_deref().unwrap_or(""),
            summary.duration_ms
        );
    }
    Ok(0)
}

fn list(engine: &Engine, json: bool) -> Result<u8, EngineError> {
    let rows = engine.accounts().list_accounts()?;
    if json {
        let out: Vec<Value> = rows
            .iter()
            .map(|r| {
                let mut o = Map::new();
                o.insert("id".into(), json!(r.id));
                o.insert("sf_id".into(), json!(r.sf_id));
                o.insert("name".into(), json!(r.name));
                o.insert("synced_at".into(), json!(r.synced_at));
                o.insert(
                    "missing_in_salesforce_since".into(),
                    json!(r.sf_missing_since),
                );
                for (k, v) in &r.fields {
                    o.insert(k.clone(), v.clone());
                }
                Value::Object(o)
            })
            .collect();
        print_json(&out);
    } else {
        if rows.is_empty() {
            outln!(
                "No accounts yet. Add the accounts in your book from Salesforce with \
                 `upsight accounts add ID_OR_URL` (an Account Id or its Salesforce page's address), \
                 or create one by hand with `upsight accounts add --name NAME`."
            );
        }
        for r in &rows {
            outln!(
                "{:>5}  {:<18}  {}{}",
                r.id,
                r.sf_id.as_deref().unwrap_or("(not linked)"),
                r.name,
                if r.sf_missing_since.is_some() {
                    "  [missing in Salesforce]"
                } else {
                    ""
                }
            );
        }
    }
    Ok(0)
}

/// The JSON of one account as `show`, `add` and `link` print it.
pub fn account_json(account: &Account) -> Value {
    json!({
        "id": account.id,
        "sf_id": account.sf_id,
        "name": account.name,
        "fields": account.fields,
        "quick_links": account.quick_links,
        "synced_at": account.synced_at,
        "missing_in_salesforce_since": account.sf_missing_since,
        "missing_reason": account.sf_missing_reason,
        "merged_into": account.sf_merged_into,
        "created_at": account.created_at,
        "updated_at": account.updated_at,
    })
}

fn opportunity_json(o: &Opportunity) -> Value {
    json!({"id": o.id, "sf_id": o.sf_id, "name": o.name, "fields": o.fields, "synced_at": o.synced_at})
}

fn show(engine: &Engine, json: bool, reference: &str) -> Result<u8, EngineError> {
    let view = engine.accounts().show_account(reference)?;
    if json {
        let mut out = account_json(&view.account);
        out["opportunities"] = view.opportunities.iter().map(opportunity_json).collect();
        out["pending_fields"] = view
            .pending
            .iter()
            .map(|e| {
                json!({
                    "change_id": e.id, "record": e.record, "field": e.field,
                    "status": e.status, "old_value": e.old_value, "new_value": e.new_value,
                })
            })
            .collect();
        print_json(&out);
        return Ok(0);
    }
    let a = &view.account;
    outln!(
        "{} (local {}, {})",
        a.name,
        a.id,
        a.sf_id.as_deref().unwrap_or("not linked")
    );
    let field_map = engine.field_map();
    // Shown by the org's type when the describe is cached (a datetime in the user's time
    // zone, a multi-select picklist's values, rich text without its markup), else by the
    // field map's; no call to Salesforce for it.
    let meta = engine.metadata().cached_org_meta().ok().flatten();
    let zone = engine.edits().time_zone();
    for (category, fields) in field_map.by_category(upsight_core::SObject::Account) {
        outln!("\n{category}");
        for f in fields {
            let rules = meta.as_ref().and_then(|m| m.rules(f.sobject, &f.api_name));
            let look = upsight_web::format::Look::of(f.field_type, rules, &zone);
            let value = upsight_web::format::display_as(a.fields.get(&f.api_name), &look)
                .unwrap_or_default();
            let pending = view.pending.iter().any(|e| {
                matches!(e.record, upsight_core::RecordRef::Account(_))
                    && e.field.eq_ignore_ascii_case(&f.api_name)
            });
            // Both names: `upsight set` takes either.
            outln!(
                "  {:<34} {:<40} {}{}",
                f.label,
                f.api_name,
                value,
                if pending { "  (unpushed)" } else { "" }
            );
        }
    }
    if !a.quick_links.is_empty() {
        outln!("\nQuick links");
        for (k, v) in &a.quick_links {
            outln!("  {k:<24} {v}");
        }
    }
    if !view.opportunities.is_empty() {
        outln!("\nOpportunities");
        for o in &view.opportunities {
            let stage = o
                .fields
                .get("StageName")
                .map(display_value)
                .unwrap_or_default();
            outln!("  {:>5}  {:<40} {}", o.id, o.name, stage);
        }
    }
    Ok(0)
}

fn display_value(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn search(engine: &Engine, json: bool, text: &str) -> Result<u8, EngineError> {
    let hits = engine.accounts().search_salesforce(text)?;
    if json {
        print_json(&hits);
    } else {
        for h in &hits {
            outln!(
                "{}  {:<40} {:<24} {}{}",
                h.sf_id,
                h.name,
                h.owner.as_deref().unwrap_or(""),
                h.industry.as_deref().unwrap_or(""),
                h.local_id
                    .map(|id| format!("  (local {id})"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(0)
}

/// Reads an Id file: one Id or URL per line; blank lines and `#` comments are skipped.
fn read_id_file(path: &std::path::Path) -> Result<Vec<String>, EngineError> {
    let text = upsight_engine::files::read_user_file(
        upsight_engine::files::FileRole::IdFile,
        path,
        upsight_engine::files::USER_FILE_LIMIT,
    )?;
    Ok(text
        .lines()
        // A comment after the Id (`001... # the big one`) too; a `#` inside a URL, with no
        // space before it, is part of the URL.
        .map(|l| {
            l.split_once(" #")
                .or_else(|| l.split_once("\t#"))
                .map_or(l, |(before, _)| before)
                .trim()
        })
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

fn add(engine: &Engine, json: bool, args: AddArgs) -> Result<u8, EngineError> {
    if let Some(name) = args.name {
        return new(engine, json, &name);
    }
    let mut inputs = args.ids;
    inputs.extend(args.sf_ids);
    if let Some(path) = &args.sf_id_file {
        inputs.extend(read_id_file(path)?);
    }
    let outcome = engine.accounts().add_accounts(&inputs, &no_progress)?;
    if json {
        print_json(&json!({
            "created": outcome.created.iter().map(account_json).collect::<Vec<_>>(),
            "existing": outcome.existing.iter().map(account_json).collect::<Vec<_>>(),
            "not_found": outcome.not_found,
            "sync": outcome.sync,
        }));
    } else {
        for a in &outcome.created {
            outln!(
                "added {} (local {}, {})",
                a.name,
                a.id,
                a.sf_id.as_deref().unwrap_or("")
            );
        }
        for a in &outcome.existing {
            outln!(
                "already local: {} (local {}, {})",
                a.name,
                a.id,
                a.sf_id.as_deref().unwrap_or("")
            );
        }
        for id in &outcome.not_found {
            outln!("not found in Salesforce: {id}");
        }
    }
    Ok(0)
}

fn new(engine: &Engine, json: bool, name: &str) -> Result<u8, EngineError> {
    let account = engine.accounts().create_local_account(name)?;
    if json {
        print_json(
            &json!({"created": [account_json(&account)], "existing": [], "not_found": [], "sync": null}),
        );
    } else {
        outln!(
            "created {} (local {}); link it with `upsight accounts link {} --sf-id ID`",
            account.name,
            account.id,
            account.id
        );
    }
    Ok(0)
}

fn link(engine: &Engine, json: bool, reference: &str, sf_id: &str) -> Result<u8, EngineError> {
    let (account, summary) = engine
        .accounts()
        .link_account(reference, sf_id, &no_progress)?;
    if json {
        let mut out = account_json(&account);
        out["sync"] = json!(summary);
        print_json(&out);
    } else {
        outln!(
            "linked {} (local {}) to {}",
            account.name,
            account.id,
            account.sf_id.as_deref().unwrap_or("")
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_file_skips_blank_lines_and_comments_and_keeps_urls_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids.txt");
        std::fs::write(
            &path,
            "# my book\n\n0015g0000000001AAA  # the big one\n\t0015g0000000002AAA\t# tabbed\nhttps://acme.my.salesforce.com/0015g0000000003#top\n",
        )
        .unwrap();
        assert_eq!(
            read_id_file(&path).unwrap(),
            [
                "0015g0000000001AAA",
                "0015g0000000002AAA",
                "https://acme.my.salesforce.com/0015g0000000003#top",
            ]
        );
    }
}
