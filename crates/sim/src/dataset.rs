//! The deterministic dataset generator: the same [`DatasetSpec`] always yields the same org,
//! with the same Ids and values, so tests and benchmarks can rely on exact contents.
//!
//! Every account gets a realistic value for every field upsight maps (values consistent with
//! each other: the health score matches the health colour, renewal follows contract start,
//! "days since last CXM activity" matches the last CX update). Every fourth account has a name
//! built to break naive escaping (quotes, backslashes, `%`/`_`, non-ASCII, emoji, markup), and
//! the opportunities are a steady mix of open, Closed Won and Closed Lost.
//!
//! The dates are relative to a fixed reference day ([`REFERENCE_DATE`]), not to today, so the
//! data does not drift with the calendar.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::clock;
use crate::org::Instance;
use crate::schema::Schema;

/// The day the generated data is "as of".
pub const REFERENCE_DATE: (i64, u32, u32) = (2026, 10, 1);

/// The login user of every generated org.
pub const API_USERNAME: &str = "admin@upsight-sim.example";

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatasetSpec {
    pub accounts: usize,
    pub opportunities_per_account: usize,
    pub seed: u64,
}

impl Default for DatasetSpec {
    fn default() -> Self {
        DatasetSpec {
            accounts: 50,
            opportunities_per_account: 3,
            seed: 42,
        }
    }
}

/// splitmix64: tiny, fast, and good enough to make varied-looking data; determinism is the
/// point, not statistical quality.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi - lo + 1).max(1) as u64;
        lo + (self.next_u64() % span) as i64
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() as i64 - 1) as usize]
    }

    pub fn chance(&mut self, percent: i64) -> bool {
        self.range(0, 99) < percent
    }
}

const OWNERS: &[(&str, &str)] = &[
    ("Avery", "Chen"),
    ("Jordan", "Okafor"),
    ("Priya", "Raman"),
    ("Mateo", "García"),
    ("Sam", "O'Neill"),
];

const CSMS: &[&str] = &[
    "Dana Whitfield",
    "Lukas Brandt",
    "Aisha Bello",
    "Noah Kim",
    "Chloé Martin",
    "Ravi Iyer",
];

const NAME_STEMS: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Hooli",
    "Vandelay",
    "Oscorp",
    "Massive Dynamic",
    "Aperture",
    "Black Mesa",
    "Monarch",
    "Nakatomi",
    "Gekko",
    "Prestige",
    "Virtucon",
    "Sirius",
    "Blue Sun",
    "Duff",
    "Pawnee",
    "Bluth",
    "Sterling",
    "Wernham",
    "Dunder",
    "Cogswell",
];

const NAME_SUFFIXES: &[&str] = &[
    "Corp",
    "Inc.",
    "LLC",
    "Holdings",
    "Group",
    "Labs",
    "Systems",
    "Bank",
    "Logistics",
    "Health",
    "Energy",
    "Media",
    "Telecom",
    "Insurance",
    "Retail",
];

/// Names that break naive SOQL, JSON, shell, HTML or LIKE handling.
const TRICKY_NAMES: &[&str] = &[
    "O'Brien & Sons",
    "The \"Quoted\" Company",
    "Back\\slash Industries",
    "100% Uptime_Partners",
    "Zürich Größe AG",
    "株式会社テスト",
    "<script>alert(1)</script> Ltd",
    "Robert'); DROP TABLE Accounts;--",
    "D'Arcy \"DQ\" \\ Holdings",
    "Rocket 🚀 Ventures",
    "Ünïcödé Ça Va S.A.",
    "Wild%Card_Co \\%_",
];

const PRODUCTS: &[&str] = &[
    "Kong Gateway Enterprise",
    "Kong Konnect",
    "Kong Mesh",
    "Kong AI Gateway",
    "Kong Event Gateway",
    "Kong Insomnia",
    "Kong Ingress Controller",
];

const COMMENTS: &[&str] = &[
    "Exec sponsor engaged; QBR scheduled for next month.",
    "Champion moved to a new role — need to rebuild the relationship.",
    "Usage grew 20% quarter over quarter, mostly in the payments team.",
    "Budget freeze announced; renewal at risk unless value is shown.",
    "Platform team is standardising on Kong across 3 business units.",
    "Still running OSS in two regions; migration plan drafted.",
    "Critical checkout flow goes through the gateway (99.99% SLO).",
    "Weekly technical syncs with the SRE team; \"very responsive\".",
    "Value review delivered: $1.2M saved on legacy API tooling.",
    "Implementation of Konnect in progress, go-live planned for Q2.",
    "Customer asked about AI Gateway rate limiting <preview>.",
    "No response to the last 3 emails; escalated to the AE.",
];

fn product_set(rng: &mut Rng, n: usize) -> Vec<&'static str> {
    let mut chosen: Vec<&str> = Vec::new();
    while chosen.len() < n.min(PRODUCTS.len()) {
        let p = *rng.pick(PRODUCTS);
        if !chosen.contains(&p) {
            chosen.push(p);
        }
    }
    // Salesforce stores multi-select values in picklist order.
    chosen.sort_by_key(|p| PRODUCTS.iter().position(|q| q == p));
    chosen
}

/// A comment of 1 to 3 sentences, sometimes on several lines.
fn comment(rng: &mut Rng) -> String {
    let n = rng.range(1, 3);
    let sep = if rng.chance(30) { "\n" } else { " " };
    (0..n)
        .map(|_| *rng.pick(COMMENTS))
        .collect::<Vec<_>>()
        .join(sep)
}

fn random_id(rng: &mut Rng, len: usize) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..len).map(|_| *rng.pick(ALPHA) as char).collect()
}

fn str_field(fields: &mut Map<String, Value>, k: &str, v: impl Into<String>) {
    fields.insert(k.into(), Value::String(v.into()));
}

/// Builds the org for `spec` over `schema`.
pub fn generate(schema: Schema, spec: &DatasetSpec) -> Instance {
    let mut org = Instance::new(schema);
    populate(&mut org, spec);
    org
}

fn org_id_of(org: &Instance) -> String {
    org.org
        .all("Organization")
        .next()
        .map(|r| r.id().to_string())
        .unwrap_or_default()
}

/// Replaces `org`'s records with the dataset for `spec` (the schema is kept as it is).
pub fn populate(org: &mut Instance, spec: &DatasetSpec) {
    org.clear();
    let mut rng = Rng::new(spec.seed);
    let (ry, rm, rd) = REFERENCE_DATE;
    let today = clock::days_from_civil(ry, rm, rd).expect("REFERENCE_DATE is a real date");
    let day_ms = 86_400_000i64;
    let created = |rng: &mut Rng, lo: i64, hi: i64| {
        clock::format_datetime((today - rng.range(lo, hi)) * day_ms + rng.range(0, day_ms - 1))
    };

    // Inserting records the schema knows cannot fail; a failure here is a schema.toml defect.
    let insert = |org: &mut Instance, sobject: &str, fields: Map<String, Value>| {
        org.insert(sobject, &fields)
            .unwrap_or_else(|e| panic!("generated {sobject} does not fit the schema: {e}"))
    };

    let stamp = created(&mut rng, 2000, 2000);
    let org_id = org.new_id("Organization").unwrap_or_default();
    let mut o = Map::new();
    str_field(&mut o, "Id", org_id);
    str_field(&mut o, "Name", "upsight Sim Org");
    str_field(&mut o, "InstanceName", "SIM1");
    o.insert("IsSandbox".into(), json!(false));
    o.insert("TrialExpirationDate".into(), Value::Null);
    o.insert("NamespacePrefix".into(), Value::Null);
    str_field(&mut o, "OrganizationType", "Enterprise Edition");
    for k in ["CreatedDate", "LastModifiedDate", "SystemModstamp"] {
        str_field(&mut o, k, stamp.clone());
    }
    insert(org, "Organization", o);

    let mut user_ids = Vec::new();
    let mut users: Vec<(&str, &str, String)> = vec![("Sim", "Admin", API_USERNAME.to_string())];
    for (first, last) in OWNERS {
        let login: String = last
            .chars()
            .filter(char::is_ascii_alphabetic)
            .collect::<String>()
            .to_lowercase();
        users.push((
            first,
            last,
            format!("{}.{login}@upsight-sim.example", first.to_lowercase()),
        ));
    }
    for (first, last, username) in &users {
        let mut u = Map::new();
        str_field(&mut u, "FirstName", *first);
        str_field(&mut u, "LastName", *last);
        str_field(&mut u, "Name", format!("{first} {last}"));
        str_field(&mut u, "Username", username.clone());
        str_field(&mut u, "Email", username.clone());
        u.insert("IsActive".into(), json!(true));
        for k in ["CreatedDate", "LastModifiedDate", "SystemModstamp"] {
            str_field(&mut u, k, stamp.clone());
        }
        let id = insert(org, "User", u);
        user_ids.push(id);
    }
    org.api_user_id = user_ids[0].clone();
    // LastModifiedById is required on every record, the Organization's too (recorded:
    // `"LastModifiedById" : "00523000002KbrQAAS"` in CumulusCI's
    // shared_cassettes/GET_sobjects_Organization.yaml); it was created before any user.
    let org_key = org_id_of(org);
    if let Some(r) = org
        .org
        .records
        .get_mut("Organization")
        .and_then(|m| m.get_mut(&org_key))
    {
        r.fields.insert(
            "LastModifiedById".into(),
            Value::String(user_ids[0].clone()),
        );
    }
    for id in user_ids.clone() {
        if let Some(r) = org.org.records.get_mut("User").and_then(|m| m.get_mut(&id)) {
            r.fields.insert(
                "LastModifiedById".into(),
                Value::String(user_ids[0].clone()),
            );
        }
    }
    let owners = &user_ids[1..];

    let picklist = |org: &Instance, object: &str, field: &str| -> Vec<String> {
        org.org
            .schema
            .object(object)
            .and_then(|o| o.field(field))
            .map(|f| f.picklist_values.clone())
            .unwrap_or_default()
    };
    let account_picks: Vec<(&str, Vec<String>)> = [
        "Industry",
        "Account_Segment__c",
        "CX_Play__c",
        "Customer_Stage_Picklist__c",
        "Engagement_Tier__c",
        "CS_Tier__c",
        "GEP_Stage__c",
    ]
    .into_iter()
    .map(|f| (f, picklist(org, "Account", f)))
    .collect();
    let opp_types = picklist(org, "Opportunity", "Type");
    let churn_reasons = picklist(org, "Opportunity", "Churn_Reason__c");
    let open_stages = [
        "Prospecting",
        "Qualification",
        "Discovery",
        "Proposal",
        "Negotiation",
        "Pending Renewal",
    ];
    const INDICATORS: &[(&str, &str)] = &[
        ("Relationship_Health__c", "Relationship_Health_Comments__c"),
        (
            "Customer_Business_Health__c",
            "Customer_Business_Health_Comments__c",
        ),
        ("Consumption__c", "Consumption_Comments__c"),
        ("Enterprise_Features__c", "Enterprise_Features_Comments__c"),
        ("Kong_OSS_Present__c", "Kong_OSS_Present_Comments__c"),
        ("Critical_Use_Cases__c", "Critical_Use_cases_Comments__c"),
        (
            "Technical_Engagement__c",
            "Technical_Engagement_Comments__c",
        ),
        ("Platform_Play__c", "Platform_Play_Comments__c"),
        (
            "Value_Realization_Custom__c",
            "Value_Realization_Comments__c",
        ),
        (
            "Active_Project_Implementation__c",
            "Active_Project_Implementation_Comments__c",
        ),
    ];
    let colours = ["Green", "Green", "Yellow", "Red"];

    let mut used_names = std::collections::BTreeSet::new();
    let mut tricky = 0usize;
    let mut opp_index = 0usize;
    for i in 0..spec.accounts {
        let mut a = Map::new();
        let base = if i % 4 == 1 {
            tricky += 1;
            TRICKY_NAMES[(tricky - 1) % TRICKY_NAMES.len()].to_string()
        } else {
            format!("{} {}", rng.pick(NAME_STEMS), rng.pick(NAME_SUFFIXES))
        };
        let mut name = base.clone();
        let mut n = 2;
        while !used_names.insert(name.clone()) {
            name = format!("{base} {n}");
            n += 1;
        }
        str_field(&mut a, "Name", name.clone());
        for (field, values) in &account_picks {
            str_field(&mut a, field, rng.pick(values).clone());
        }
        str_field(&mut a, "OwnerId", rng.pick(owners).clone());

        let acv = rng.range(200, 20_000) * 100;
        let years = rng.range(1, 3);
        a.insert("ACV__c".into(), json!(acv as f64));
        a.insert("TCV__c".into(), json!((acv * years) as f64));
        let start = today - rng.range(30, 900);
        str_field(&mut a, "Contract_Start_Date__c", clock::format_date(start));
        let mut renewal = start + 365 * years;
        while renewal < today - 30 {
            renewal += 365;
        }
        str_field(&mut a, "Renewal_Date__c", clock::format_date(renewal));

        let health = *rng.pick(&colours);
        let (lo, hi) = match health {
            "Green" => (700, 1000),
            "Yellow" => (400, 699),
            _ => (50, 399),
        };
        str_field(&mut a, "Customer_Health__c", health);
        a.insert(
            "Customer_Health_Number__c".into(),
            json!(rng.range(lo, hi) as f64 / 10.0),
        );
        let risk = match health {
            "Green" if rng.chance(85) => "Low",
            "Red" if rng.chance(80) => "High",
            _ => *rng.pick(&["Low", "Medium", "High"]),
        };
        str_field(&mut a, "Renewal_Risk_Level__c", risk);
        a.insert("NPS_Score__c".into(), json!(rng.range(-40, 90) as f64));
        // Live records: not in the Recycle Bin, not the loser of a merge.
        a.insert("IsDeleted".into(), json!(false));
        a.insert("MasterRecordId".into(), Value::Null);
        str_field(&mut a, "CXM_Name__c", *rng.pick(CSMS));
        str_field(&mut a, "CXM_Sentiment_Picklist__c", *rng.pick(&colours));
        let last_cx = rng.range(0, 120);
        str_field(
            &mut a,
            "Last_CX_Update__c",
            clock::format_date(today - last_cx),
        );
        a.insert(
            "Days_Since_Last_CXM_Activity__c".into(),
            json!(rng.range(0, last_cx) as f64),
        );
        a.insert(
            "Overall_Consumption__c".into(),
            json!(rng.range(500, 14_000) as f64 / 100.0),
        );
        a.insert(
            "Gateway_API_Calls_Used__c".into(),
            json!((rng.range(1, 50_000) * 100_000) as f64),
        );
        a.insert(
            "Gateway_API_Services_Used__c".into(),
            json!(rng.range(1, 2_000) as f64),
        );
        let n_products = rng.range(1, 4) as usize;
        let contracted = product_set(&mut rng, n_products);
        let used_count = rng.range(1, contracted.len() as i64) as usize;
        str_field(&mut a, "Products_Contracted__c", contracted.join(";"));
        str_field(
            &mut a,
            "Kong_Enterprise_Products_Used__c",
            contracted[..used_count].join(";"),
        );
        str_field(
            &mut a,
            "Kong_Version__c",
            format!(
                "3.{}.{}.{}",
                rng.range(4, 11),
                rng.range(0, 3),
                rng.range(0, 2)
            ),
        );
        let notes: Vec<String> = (0..rng.range(1, 4))
            .map(|k| {
                format!(
                    "{} — {}: {}",
                    clock::format_date(today - last_cx - k * rng.range(20, 40)),
                    rng.pick(CSMS),
                    comment(&mut rng)
                )
            })
            .collect();
        str_field(&mut a, "CS_Account_Notes__c", notes.join("\n\n"));
        for (status, comments) in INDICATORS {
            let value = if *status == "Kong_OSS_Present__c" {
                *rng.pick(&["Yes", "No", "Unknown"])
            } else {
                *rng.pick(&colours)
            };
            str_field(&mut a, status, value);
            str_field(&mut a, comments, comment(&mut rng));
        }
        let slug: String = format!("{} {i}", name)
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        str_field(
            &mut a,
            "Internal_Slack_Channel__c",
            format!(
                "https://kong.slack.com/archives/C{}",
                random_id(&mut rng, 10)
                    .to_uppercase()
                    .replace(['-', '_'], "0")
            ),
        );
        str_field(
            &mut a,
            "External_Slack_Channel__c",
            format!(
                "https://kong-customers.slack.com/archives/C{}",
                random_id(&mut rng, 10)
                    .to_uppercase()
                    .replace(['-', '_'], "0")
            ),
        );
        str_field(
            &mut a,
            "Account_Plan__c",
            format!(
                "https://docs.google.com/document/d/{}/edit",
                random_id(&mut rng, 44)
            ),
        );
        str_field(
            &mut a,
            "Customer_Success_Plan__c",
            format!(
                "https://docs.google.com/presentation/d/{}/edit#slide=id.p",
                random_id(&mut rng, 44)
            ),
        );
        str_field(
            &mut a,
            "Google_Drive_Folder__c",
            format!(
                "https://drive.google.com/drive/folders/{}?account={}",
                random_id(&mut rng, 33),
                slug.trim_matches('-')
            ),
        );
        str_field(&mut a, "CreatedDate", created(&mut rng, 900, 1500));
        let modified = created(&mut rng, 0, 30);
        str_field(&mut a, "LastModifiedDate", modified.clone());
        str_field(&mut a, "SystemModstamp", modified);
        str_field(&mut a, "LastModifiedById", rng.pick(&user_ids).clone());
        let account_id = insert(org, "Account", a);

        for j in 0..spec.opportunities_per_account {
            let mut o = Map::new();
            // A fixed rotation guarantees the mix: 2 open, 2 Closed Won, 1 Closed Lost in 5.
            let stage = match opp_index % 5 {
                0 | 1 => *rng.pick(&open_stages),
                2 | 3 => "Closed Won",
                _ => "Closed Lost",
            };
            opp_index += 1;
            let kind = rng.pick(&opp_types).clone();
            let fy = 25 + (j as i64 % 3);
            let opp_name: String = format!("{name} - {kind} FY{fy}");
            // Name is 120 characters at most, counted in UTF-16 units as Salesforce does.
            let mut units = 0;
            let opp_name: String = opp_name
                .chars()
                .take_while(|c| {
                    units += c.len_utf16();
                    units <= 120
                })
                .collect();
            str_field(&mut o, "Name", opp_name);
            str_field(&mut o, "AccountId", account_id.clone());
            str_field(&mut o, "Type", kind.clone());
            str_field(&mut o, "StageName", stage);
            let acv = rng.range(100, 10_000) * 100;
            let years = rng.range(1, 3);
            o.insert("Amount".into(), json!((acv * years) as f64));
            o.insert("ACV__c".into(), json!(acv as f64));
            o.insert("TCV__c".into(), json!((acv * years) as f64));
            let close = if stage.starts_with("Closed") {
                today - rng.range(1, 700)
            } else {
                today + rng.range(1, 300)
            };
            str_field(&mut o, "CloseDate", clock::format_date(close));
            str_field(
                &mut o,
                "Contract_Start_Date__c",
                clock::format_date(close + 1),
            );
            str_field(
                &mut o,
                "Renewal_Date__c",
                clock::format_date(close + 1 + 365 * years),
            );
            let risk = *rng.pick(&["Low", "Low", "Medium", "High"]);
            str_field(&mut o, "Renewal_Risk_Level__c", risk);
            if stage == "Closed Lost" {
                str_field(&mut o, "Churn_Reason__c", rng.pick(&churn_reasons).clone());
            }
            str_field(&mut o, "CX_Notes__c", comment(&mut rng));
            str_field(
                &mut o,
                "CS_Handoff_Notes__c",
                format!("Handoff from AE:\n{}", comment(&mut rng)),
            );
            let forecast = match (stage, risk) {
                ("Closed Lost", _) => acv,
                ("Closed Won", _) => 0,
                (_, "High") => acv / 2,
                (_, "Medium") => acv / 5,
                _ => 0,
            };
            o.insert("ARR_Churn_Forecast__c".into(), json!(forecast as f64));
            str_field(&mut o, "CreatedDate", created(&mut rng, 700, 1400));
            let modified = created(&mut rng, 0, 60);
            str_field(&mut o, "LastModifiedDate", modified.clone());
            str_field(&mut o, "SystemModstamp", modified);
            str_field(&mut o, "LastModifiedById", rng.pick(&user_ids).clone());
            insert(org, "Opportunity", o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(accounts: usize, opps: usize, seed: u64) -> DatasetSpec {
        DatasetSpec {
            accounts,
            opportunities_per_account: opps,
            seed,
        }
    }

    #[test]
    fn exact_counts_and_determinism() {
        let a = generate(Schema::default_org(), &spec(40, 3, 7));
        let b = generate(Schema::default_org(), &spec(40, 3, 7));
        assert_eq!(a.org.count("Account"), 40);
        assert_eq!(a.org.count("Opportunity"), 120);
        assert_eq!(a.org.records, b.org.records);
        let c = generate(Schema::default_org(), &spec(40, 3, 8));
        assert_ne!(a.org.records, c.org.records);
        let empty = generate(Schema::default_org(), &spec(0, 5, 1));
        assert_eq!(empty.org.count("Account"), 0);
        assert_eq!(empty.org.count("Organization"), 1);
    }

    #[test]
    fn every_field_has_a_valid_value() {
        let org = generate(Schema::default_org(), &spec(24, 5, 3));
        for object in ["Account", "Opportunity"] {
            let schema = org.org.schema.object(object).unwrap().clone();
            for r in org.org.all(object) {
                for f in &schema.fields {
                    let v = &r.fields[&f.name];
                    if f.name == "Churn_Reason__c" {
                        assert_eq!(v.is_null(), r.fields["StageName"] != "Closed Lost");
                        continue;
                    }
                    // Only the loser of a merge has one.
                    if f.name == "MasterRecordId" {
                        assert!(v.is_null());
                        continue;
                    }
                    assert!(!v.is_null(), "{object}.{} is null", f.name);
                    if f.kind.is_text() {
                        let s = v.as_str().unwrap();
                        assert!(s.encode_utf16().count() <= f.length as usize, "{}", f.name);
                        if f.restricted_picklist {
                            assert!(f.picklist_values.iter().any(|p| p == s), "{s}");
                        }
                    }
                }
                // What the API would accept must pass the API's own validation.
                let mut body = Map::new();
                for f in schema.fields.iter().filter(|f| f.updateable) {
                    body.insert(f.name.clone(), r.fields[&f.name].clone());
                }
                let mut copy = org.clone();
                copy.update(object, r.id(), &body)
                    .unwrap_or_else(|e| panic!("{object} {}: {e:?}", r.id()));
            }
        }
    }

    #[test]
    fn mixes_stages_and_tricky_names() {
        let org = generate(Schema::default_org(), &spec(40, 2, 11));
        let stages: Vec<&str> = org
            .org
            .all("Opportunity")
            .map(|o| o.fields["StageName"].as_str().unwrap())
            .collect();
        assert!(stages.contains(&"Closed Won"));
        assert!(stages.contains(&"Closed Lost"));
        assert!(stages.iter().any(|s| !s.starts_with("Closed")));
        let names: Vec<&str> = org
            .org
            .all("Account")
            .map(|a| a.fields["Name"].as_str().unwrap())
            .collect();
        for needle in ["'", "\"", "\\", "%", "_", "ü", "株", "<script>"] {
            assert!(
                names.iter().any(|n| n.contains(needle)),
                "no name with {needle}"
            );
        }
        let won = org
            .org
            .all("Opportunity")
            .find(|o| o.fields["StageName"] == "Closed Won")
            .unwrap();
        assert_eq!(won.fields["IsWon"], true);
        assert_eq!(won.fields["IsClosed"], true);
    }
}
