//! Case tables and property tests for the SOQL parser and evaluator, over a tiny hand-built
//! org (Account, Opportunity, User) whose records exercise quotes, backslashes, `%`/`_`,
//! non-ASCII text, nulls, dangling lookups and every field type the evaluator distinguishes.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::org::{Org, Record};
use crate::schema::Schema;

fn schema() -> Schema {
    let field = |name: &str, kind: &str| json!({"name": name, "label": name, "type": kind});
    let lookup = |name: &str, to: &str, rel: &str| {
        json!({"name": name, "label": name, "type": "reference", "reference_to": to,
               "relationship_name": rel})
    };
    serde_json::from_value(json!({"objects": [
        {"name": "Account", "label": "Account", "label_plural": "Accounts", "key_prefix": "001",
         "child_relationships": [
            {"child_sobject": "Opportunity", "field": "AccountId", "relationship_name": "Opportunities"}],
         "fields": [
            {"name": "Id", "label": "Account ID", "type": "id", "createable": false, "updateable": false},
            {"name": "Name", "label": "Account Name", "type": "string", "length": 255},
            field("Industry", "picklist"),
            field("AnnualRevenue", "currency"),
            field("NumberOfEmployees", "int"),
            {"name": "IsActive__c", "label": "Active", "type": "boolean", "custom": true},
            {"name": "Description", "label": "Description", "type": "textarea", "length": 32000},
            {"name": "Short_Note__c", "label": "Note", "type": "textarea", "length": 255, "custom": true},
            {"name": "CreatedDate", "label": "Created", "type": "datetime", "createable": false, "updateable": false},
            {"name": "Last_CX_Update__c", "label": "Last CX Update", "type": "date", "custom": true},
            lookup("OwnerId", "User", "Owner"),
         ]},
        {"name": "Opportunity", "label": "Opportunity", "label_plural": "Opportunities", "key_prefix": "006",
         "fields": [
            {"name": "Id", "label": "Opportunity ID", "type": "id", "createable": false, "updateable": false},
            field("Name", "string"),
            field("StageName", "picklist"),
            field("IsClosed", "boolean"),
            field("IsWon", "boolean"),
            field("Amount", "currency"),
            field("CloseDate", "date"),
            lookup("AccountId", "Account", "Account"),
         ]},
        {"name": "User", "label": "User", "label_plural": "Users", "key_prefix": "005",
         "fields": [
            {"name": "Id", "label": "User ID", "type": "id", "createable": false, "updateable": false},
            field("Name", "string"),
            field("Email", "email"),
            lookup("ManagerId", "User", "Manager"),
         ]},
    ]}))
    .expect("test schema")
}

fn acc(n: u32) -> String {
    format!("001{n:012}AAA")
}
fn opp(n: u32) -> String {
    format!("006{n:012}AAA")
}
fn usr(n: u32) -> String {
    format!("005{n:012}AAA")
}

fn insert(org: &mut Org, sobject: &str, fields: Value) {
    let fields: BTreeMap<String, Value> = serde_json::from_value(fields).expect("fields");
    let record = Record {
        sobject: sobject.into(),
        fields,
    };
    org.records
        .entry(sobject.into())
        .or_default()
        .insert(record.id().to_string(), record);
}

/// Five accounts, five opportunities, two users. Account 3 has no owner, account 4 a dangling
/// one; opportunity 5 has no account.
fn org() -> Org {
    let mut org = Org {
        schema: schema(),
        records: BTreeMap::new(),
    };
    insert(
        &mut org,
        "User",
        json!({"Id": usr(1), "Name": "Ada Admin", "Email": "ada@example.com", "ManagerId": null}),
    );
    insert(
        &mut org,
        "User",
        json!({"Id": usr(2), "Name": "Bob Boss", "Email": "bob@example.com", "ManagerId": usr(1)}),
    );
    insert(
        &mut org,
        "Account",
        json!({"Id": acc(1), "Name": "Acme Corp", "Industry": "Tech",
        "AnnualRevenue": 1000000, "NumberOfEmployees": 50, "IsActive__c": true, "Description": "long",
        "CreatedDate": "2024-01-15T10:00:00.000+0000", "Last_CX_Update__c": "2024-01-15", "OwnerId": usr(2)}),
    );
    insert(
        &mut org,
        "Account",
        json!({"Id": acc(2), "Name": "O'Brien's \"Pub\"", "Industry": "Retail",
        "AnnualRevenue": 250.5, "NumberOfEmployees": 5, "IsActive__c": false,
        "CreatedDate": "2023-06-01T00:00:00.000+0000", "Last_CX_Update__c": "2023-12-31", "OwnerId": usr(1)}),
    );
    insert(
        &mut org,
        "Account",
        json!({"Id": acc(3), "Name": "100% Pure_Juice", "Industry": null,
        "AnnualRevenue": null, "NumberOfEmployees": null,
        "CreatedDate": "2024-01-15T09:59:59.000+0000", "Last_CX_Update__c": null, "OwnerId": null}),
    );
    insert(
        &mut org,
        "Account",
        json!({"Id": acc(4), "Name": "back\\slash\nnewline", "Industry": "tech",
        "AnnualRevenue": -10, "NumberOfEmployees": 0, "IsActive__c": true,
        "CreatedDate": "2022-05-05T12:00:00.000+0000", "Last_CX_Update__c": "2024-02-29", "OwnerId": usr(9)}),
    );
    insert(
        &mut org,
        "Account",
        json!({"Id": acc(5), "Name": "Ünïcode 日本", "Industry": "Energy",
        "AnnualRevenue": 0, "NumberOfEmployees": 7, "IsActive__c": false,
        "CreatedDate": null, "Last_CX_Update__c": null, "OwnerId": usr(1)}),
    );
    let o = |n: u32,
             name: &str,
             stage: &str,
             closed: bool,
             won: bool,
             amount: Value,
             close: Value,
             account: Value| {
        json!({"Id": opp(n), "Name": name, "StageName": stage, "IsClosed": closed, "IsWon": won,
               "Amount": amount, "CloseDate": close, "AccountId": account})
    };
    for fields in [
        o(
            1,
            "Acme Renewal",
            "Prospecting",
            false,
            false,
            json!(100),
            json!("2024-03-01"),
            json!(acc(1)),
        ),
        o(
            2,
            "Acme Won",
            "Closed Won",
            true,
            true,
            json!(300),
            json!("2024-01-01"),
            json!(acc(1)),
        ),
        o(
            3,
            "Acme Lost",
            "Closed Lost",
            true,
            false,
            json!(200),
            json!("2024-02-01"),
            json!(acc(1)),
        ),
        o(
            4,
            "Pub Upsell",
            "Prospecting",
            false,
            false,
            json!(50),
            Value::Null,
            json!(acc(2)),
        ),
        o(
            5,
            "Orphan",
            "Prospecting",
            false,
            false,
            Value::Null,
            Value::Null,
            Value::Null,
        ),
    ] {
        insert(&mut org, "Opportunity", fields);
    }
    org
}

fn run(org: &Org, soql: &str) -> Result<Vec<ResultRow>, SoqlError> {
    execute(org, &parse(soql)?, "v62.0")
}

/// The account numbers (1..=5) a query returns, in order.
fn account_numbers(org: &Org, soql: &str) -> Vec<u32> {
    run(org, soql)
        .unwrap_or_else(|e| panic!("{soql}: {e}"))
        .iter()
        .map(|row| {
            let id = row.json["Id"].as_str().expect("Id selected");
            id[3..15].parse().expect("test Id")
        })
        .collect()
}

// ------------------------------------------------------------------------------------------
// Parsing

#[test]
fn parses_a_full_query() {
    let q = parse(
        "select Id, owner.Name, (SELECT Name FROM Opportunities WHERE IsClosed = false OR IsWon = TRUE ORDER BY CloseDate DESC LIMIT 3) \
         FROM Account WHERE (Industry IN ('Tech', null) AND NOT AnnualRevenue < -1.5) \
         ORDER BY Name, CreatedDate DESC, Industry ASC NULLS LAST limit 10",
    )
    .unwrap();
    assert_eq!(q.from.name, "Account");
    assert_eq!(q.limit, Some(10));
    assert_eq!(q.select.len(), 3);
    let SelectItem::Field(path) = &q.select[1] else {
        panic!()
    };
    assert_eq!(path.parts, ["owner", "Name"]);
    assert_eq!(
        (path.pos.row, path.pos.column, path.pos.offset),
        (1, 12, 11)
    );
    let SelectItem::Subquery(sub) = &q.select[2] else {
        panic!()
    };
    assert_eq!(sub.from.name, "Opportunities");
    assert_eq!(sub.limit, Some(3));
    assert!(matches!(&sub.where_clause, Some(Condition::Or(parts)) if parts.len() == 2));
    assert_eq!(
        sub.order_by
            .iter()
            .map(|o| (o.descending, o.nulls_first))
            .collect::<Vec<_>>(),
        [(true, false)]
    );
    let Some(Condition::And(parts)) = &q.where_clause else {
        panic!("{:?}", q.where_clause)
    };
    let Condition::In {
        values,
        negated: false,
        ..
    } = &parts[0]
    else {
        panic!()
    };
    assert_eq!(values[0].value, LiteralValue::String("Tech".into()));
    assert_eq!(values[1].value, LiteralValue::Null);
    let Condition::Not(inner) = &parts[1] else {
        panic!()
    };
    let Condition::Compare {
        op: CompareOp::Lt,
        value,
        ..
    } = &**inner
    else {
        panic!()
    };
    assert_eq!(value.value, LiteralValue::Number(-1.5));
    // Default NULLS FIRST for ASC, NULLS LAST for DESC; explicit NULLS wins.
    let order: Vec<_> = q
        .order_by
        .iter()
        .map(|o| (o.field.to_string(), o.descending, o.nulls_first))
        .collect();
    assert_eq!(
        order,
        [
            ("Name".to_string(), false, true),
            ("CreatedDate".to_string(), true, false),
            ("Industry".to_string(), false, false)
        ]
    );
}

fn where_literal(soql_literal: &str) -> Result<LiteralValue, SoqlError> {
    let q = parse(&format!(
        "SELECT Id FROM Account WHERE Name = {soql_literal}"
    ))?;
    match q.where_clause {
        Some(Condition::Compare { value, .. }) => Ok(value.value),
        other => panic!("{other:?}"),
    }
}

#[test]
fn literal_table() {
    let s = |v: &str| LiteralValue::String(v.into());
    let cases: Vec<(&str, LiteralValue)> = vec![
        (r"'plain'", s("plain")),
        (r"''", s("")),
        (r"'a\nb\Nc'", s("a\nb\nc")),
        (r"'a\rb\Rc'", s("a\rb\rc")),
        (r"'a\tb\Tc'", s("a\tb\tc")),
        (r"'a\bb\Bc'", s("a\u{8}b\u{8}c")),
        (r"'a\fb\Fc'", s("a\u{c}b\u{c}c")),
        (r#"'say \"hi\"'"#, s("say \"hi\"")),
        (r#"'say "hi"'"#, s("say \"hi\"")),
        (r"'O\'Brien'", s("O'Brien")),
        (r"'back\\slash'", s("back\\slash")),
        (r"'\\n is not a newline'", s("\\n is not a newline")),
        (r"'caf\u00e9 \u00E9'", s("café é")),
        (r"'\ud83d\ude00'", s("😀")),
        (r"'100% _ok_'", s("100% _ok_")),
        ("'日本 ünï'", s("日本 ünï")),
        ("'line\nbreak'", s("line\nbreak")),
        ("42", LiteralValue::Number(42.0)),
        ("-7", LiteralValue::Number(-7.0)),
        ("3.25", LiteralValue::Number(3.25)),
        ("-0.5", LiteralValue::Number(-0.5)),
        ("true", LiteralValue::Boolean(true)),
        ("FALSE", LiteralValue::Boolean(false)),
        ("True", LiteralValue::Boolean(true)),
        ("null", LiteralValue::Null),
        ("NULL", LiteralValue::Null),
        (
            "2024-01-15",
            LiteralValue::Date {
                text: "2024-01-15".into(),
                days: 19_737,
            },
        ),
    ];
    for (literal, expected) in cases {
        assert_eq!(
            where_literal(literal).unwrap_or_else(|e| panic!("{literal}: {e}")),
            expected,
            "{literal}"
        );
    }
    let instant = 19_737 * 86_400_000 + 10 * 3_600_000;
    for literal in [
        "2024-01-15T10:00:00Z",
        "2024-01-15T10:00:00+0000",
        "2024-01-15T10:00:00.000+0000",
        "2024-01-15T12:00:00+02:00",
    ] {
        assert_eq!(
            where_literal(literal).unwrap(),
            LiteralValue::DateTime {
                text: literal.into(),
                millis: instant
            },
            "{literal}"
        );
    }
}

#[test]
fn like_patterns_decode_wildcards_and_escapes() {
    let q = parse(r"SELECT Id FROM Account WHERE Name LIKE 'a%\%_\_\\%'").unwrap();
    let Some(Condition::Like { pattern, .. }) = q.where_clause else {
        panic!()
    };
    use LikeToken::*;
    assert_eq!(
        pattern.tokens,
        [Char('a'), Any, Char('%'), One, Char('_'), Char('\\'), Any]
    );
}

/// (query, column, message tail) for MALFORMED_QUERY cases.
#[test]
fn malformed_table() {
    let cases: &[(&str, usize, &str)] = &[
        ("SELECT Id FROM Account FOO", 24, "unexpected token: FOO"),
        (
            "SELECT Id FROM Account WHERE",
            29,
            "unexpected token: <EOF>",
        ),
        ("", 1, "unexpected token: <EOF>"),
        ("SELECT FROM Account", 8, "unexpected token: FROM"),
        ("SELECT Id, FROM Account", 12, "unexpected token: FROM"),
        ("SELECT Id Name FROM Account", 11, "unexpected token: Name"),
        (
            "SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'",
            56,
            "unexpected token: OR",
        ),
        (
            "SELECT Id FROM Account WHERE Name = 'a' OR Name = 'b' AND Name = 'c'",
            55,
            "unexpected token: AND",
        ),
        (
            "SELECT Id FROM Account WHERE (Name = 'a'",
            41,
            "unexpected token: <EOF>",
        ),
        (
            "SELECT Id FROM Account WHERE Name = ",
            37,
            "unexpected token: <EOF>",
        ),
        (
            "SELECT Id FROM Account WHERE Name = Name",
            37,
            "unexpected token: Name",
        ),
        (
            "SELECT Id FROM Account WHERE Name LIKE 5",
            40,
            "unexpected token: 5",
        ),
        (
            "SELECT Id FROM Account WHERE Name NOT LIKE 'a'",
            35,
            "unexpected token: NOT",
        ),
        (
            "SELECT Id FROM Account WHERE Id IN ()",
            37,
            "unexpected token: )",
        ),
        (
            "SELECT Id FROM Account LIMIT",
            29,
            "unexpected token: <EOF>",
        ),
        (
            "SELECT Id FROM Account LIMIT -1",
            30,
            "unexpected token: -1",
        ),
        (
            "SELECT Id FROM Account LIMIT 1.5",
            30,
            "unexpected token: 1.5",
        ),
        (
            "SELECT Id FROM Account LIMIT 5 WHERE Name = 'a'",
            32,
            "unexpected token: WHERE",
        ),
        (
            "SELECT Id FROM Account ORDER Name",
            30,
            "unexpected token: Name",
        ),
        (
            "SELECT Id FROM Account ORDER BY Name NULLS",
            43,
            "unexpected token: <EOF>",
        ),
        (
            "SELECT Id FROM Account WHERE Name # 'a'",
            35,
            "no viable alternative at character '#'",
        ),
        (
            "SELECT Id FROM Account WHERE Name = :name",
            37,
            "no viable alternative at character ':'",
        ),
        (
            "SELECT Id FROM Account WHERE Name = 'abc",
            37,
            "mismatched character '<EOF>' expecting '''",
        ),
        (
            r"SELECT Id FROM Account WHERE Name = 'a\x'",
            37,
            r"Invalid string literal 'a\x'. Illegal character sequence '\x' in string literal.",
        ),
        (
            r"SELECT Id FROM Account WHERE Name = 'a\%'",
            37,
            r"Illegal character sequence '\%' in string literal.",
        ),
        (
            r"SELECT Id FROM Account WHERE Name IN ('a\_')",
            39,
            r"Illegal character sequence '\_' in string literal.",
        ),
        (
            r"SELECT Id FROM Account WHERE Name LIKE 'a\q'",
            40,
            r"Illegal character sequence '\q' in string literal.",
        ),
        (
            r"SELECT Id FROM Account WHERE Name = 'a\u12'",
            37,
            r"Illegal character sequence '\u' in string literal.",
        ),
        (
            r"SELECT Id FROM Account WHERE Name = 'a\ud83d'",
            37,
            r"Illegal character sequence '\ud83d' in string literal.",
        ),
        (
            "SELECT Id FROM Account WHERE Name = 'a\\",
            37,
            "mismatched character '<EOF>' expecting '''",
        ),
        (
            "SELECT Id FROM Account WHERE CloseDate = 2024-13-01",
            42,
            "invalid date: 2024-13-01",
        ),
        (
            "SELECT Id FROM Account WHERE CreatedDate = 2024-01-01T00:00:00",
            44,
            "invalid datetime: 2024-01-01T00:00:00",
        ),
        (
            "SELECT a.b.c.d.e.f.g FROM Account",
            8,
            "a field path can have at most 5 relationship levels",
        ),
        (
            "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Opportunity)",
            37,
            "semi-join subqueries (IN (SELECT ...)) are not supported by the simulator",
        ),
        (
            "SELECT Id, (Name) FROM Account",
            13,
            "unexpected token: Name",
        ),
        (
            "SELECT Id, (SELECT Id FROM Opportunities FROM Account",
            42,
            "unexpected token: FROM",
        ),
    ];
    for (soql, column, tail) in cases {
        let err = parse(soql).expect_err(soql);
        assert_eq!(err.error_code, "MALFORMED_QUERY", "{soql}");
        let line = soql.split('\n').next().unwrap();
        let expected = format!(
            "\n{line}\n{}^\nERROR at Row:1:Column:{column}\n{}",
            " ".repeat(column - 1),
            tail
        );
        if !err.message.ends_with(tail)
            || !err
                .message
                .starts_with(&expected[..expected.len() - tail.len()])
        {
            panic!("{soql}\n got: {:?}\nwant: {:?}", err.message, expected);
        }
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let soql = format!(
        "SELECT Id FROM Account WHERE {}Name = 'a'{}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    assert_eq!(parse(&soql).unwrap_err().error_code, "MALFORMED_QUERY");
    let soql = format!(
        "SELECT Id FROM Account WHERE {}Name = 'a'",
        "NOT ".repeat(5000)
    );
    assert_eq!(parse(&soql).unwrap_err().error_code, "MALFORMED_QUERY");
    // Subqueries nest at most five levels deep.
    let nested = "SELECT Id, (SELECT Id, (SELECT Id, (SELECT Id, (SELECT Id, (SELECT Id, (SELECT Id FROM G) FROM F) FROM E) FROM D) FROM C) FROM B) FROM A";
    assert_eq!(parse(nested).unwrap_err().error_code, "MALFORMED_QUERY");
}

// ------------------------------------------------------------------------------------------
// Evaluation

#[test]
fn where_table() {
    let org = org();
    let all = vec![1, 2, 3, 4, 5];
    let cases: Vec<(&str, Vec<u32>)> = vec![
        // strings: case-insensitive, escapes, no wildcards outside LIKE
        (r"Name = 'acme corp'", vec![1]),
        (r"Name = 'ACME CORP'", vec![1]),
        (r#"Name = 'O\'Brien\'s \"Pub\"'"#, vec![2]),
        (r"Name = '100% Pure_Juice'", vec![3]),
        (r"Name = '100% Pure-Juice'", vec![]),
        (r"Name = 'back\\slash\nnewline'", vec![4]),
        (r"Name = 'back\\slash\Nnewline'", vec![4]),
        (r"Name = 'back\\slash\\nnewline'", vec![]),
        (r"Name = '\u00dcn\u00efcode 日本'", vec![5]),
        (r"Name = 'ünïcode 日本'", vec![5]),
        (r"Name != 'Acme Corp'", vec![2, 3, 4, 5]),
        (r"Name <> 'acme corp'", vec![2, 3, 4, 5]),
        (r"Name < 'b'", vec![1, 3]),
        (r"Name >= 'O'", vec![2, 5]),
        // picklist with nulls: != includes nulls (SOQL has no three-valued logic), NOT IN does not
        (r"Industry = 'tech'", vec![1, 4]),
        (r"Industry != 'Tech'", vec![2, 3, 5]),
        (r"Industry = null", vec![3]),
        (r"Industry = NULL", vec![3]),
        (r"Industry != null", vec![1, 2, 4, 5]),
        (r"Industry = ''", vec![3]),
        (r"Industry != ''", vec![1, 2, 4, 5]),
        (r"Industry IN ('Retail', 'ENERGY')", vec![2, 5]),
        (r"Industry IN ('Retail', null)", vec![2, 3]),
        (r"Industry NOT IN ('Retail', 'Energy')", vec![1, 4]),
        (r"NOT Industry IN ('Retail', 'Energy')", vec![1, 3, 4]),
        (r"Industry NOT IN (null)", vec![1, 2, 4, 5]),
        (r"Industry < 'S'", vec![2, 5]),
        (r"Industry > null", vec![]),
        // numbers
        ("AnnualRevenue > 250", vec![1, 2]),
        ("AnnualRevenue >= 250.5", vec![1, 2]),
        ("AnnualRevenue > 250.5", vec![1]),
        ("AnnualRevenue < 0", vec![4]),
        ("AnnualRevenue <= 0", vec![4, 5]),
        ("AnnualRevenue = -10", vec![4]),
        ("AnnualRevenue = -10.0", vec![4]),
        ("AnnualRevenue > -10.5", vec![1, 2, 4, 5]),
        ("AnnualRevenue = 1000000", vec![1]),
        ("AnnualRevenue = null", vec![3]),
        ("AnnualRevenue != 0", vec![1, 2, 3, 4]),
        ("NumberOfEmployees IN (0, 5)", vec![2, 4]),
        ("NumberOfEmployees NOT IN (0, 5)", vec![1, 5]),
        // booleans: null reads as false
        ("IsActive__c = true", vec![1, 4]),
        ("IsActive__c = FALSE", vec![2, 3, 5]),
        ("IsActive__c = null", vec![2, 3, 5]),
        ("IsActive__c != null", vec![1, 4]),
        ("IsActive__c != true", vec![2, 3, 5]),
        ("IsActive__c IN (true)", vec![1, 4]),
        // datetimes compare as instants, whatever the offset
        ("CreatedDate = 2024-01-15T10:00:00Z", vec![1]),
        ("CreatedDate = 2024-01-15T11:00:00+01:00", vec![1]),
        ("CreatedDate = 2024-01-15T10:00:00.000+0000", vec![1]),
        ("CreatedDate > 2024-01-15T09:59:59Z", vec![1]),
        ("CreatedDate >= 2024-01-15T09:59:59.000+0000", vec![1, 3]),
        ("CreatedDate < 2023-06-01T00:00:00Z", vec![4]),
        ("CreatedDate <= 2023-06-01T00:00:00Z", vec![2, 4]),
        ("CreatedDate = null", vec![5]),
        ("CreatedDate != 2024-01-15T10:00:00Z", vec![2, 3, 4, 5]),
        // dates
        ("Last_CX_Update__c = 2024-01-15", vec![1]),
        ("Last_CX_Update__c > 2023-12-31", vec![1, 4]),
        ("Last_CX_Update__c <= 2023-12-31", vec![2]),
        ("Last_CX_Update__c = null", vec![3, 5]),
        ("Last_CX_Update__c IN (2024-02-29, 2023-12-31)", vec![2, 4]),
        // LIKE: case-insensitive, wildcards, escapes
        ("Name LIKE 'acme%'", vec![1]),
        ("Name LIKE '%CORP'", vec![1]),
        ("Name LIKE 'Acme'", vec![]),
        ("Name LIKE '%'", all.clone()),
        ("Name LIKE '_'", vec![]),
        ("Name LIKE '%\\%%'", vec![3]),
        ("Name LIKE '100\\% Pure\\_Juice'", vec![3]),
        ("Name LIKE '100_ Pure_Juice'", vec![3]),
        ("Name LIKE '1__% Pure%'", vec![3]),
        ("Name LIKE '%\\_%'", vec![3]),
        ("Name LIKE '%\\\\%'", vec![4]),
        ("Name LIKE '%\\n%'", vec![4]),
        ("Name LIKE '%o\\'brien%'", vec![2]),
        ("Name LIKE '%\"pub\"'", vec![2]),
        ("Name LIKE '%日本'", vec![5]),
        ("Name LIKE 'ü%'", vec![5]),
        ("Name LIKE '%c%o%'", vec![1, 5]),
        ("Industry LIKE 'T%'", vec![1, 4]),
        ("Id LIKE '001%1AAA'", vec![1]),
        // Ids: exact, 15-character form, IN
        ("Id = '001000000000001AAA'", vec![1]),
        ("Id = '001000000000001'", vec![1]),
        ("Id != '001000000000001AAA'", vec![2, 3, 4, 5]),
        (
            "Id IN ('001000000000001AAA', '001000000000003AAA', '001000000000099AAA')",
            vec![1, 3],
        ),
        ("Id NOT IN ('001000000000001AAA')", vec![2, 3, 4, 5]),
        // An IN list of Ids matches as a set, with the 15-character form too.
        (
            "Id IN ('001000000000002', '001000000000004AAA')",
            vec![2, 4],
        ),
        (
            "Id NOT IN ('001000000000002', '001000000000004AAA')",
            vec![1, 3, 5],
        ),
        ("OwnerId IN ('005000000000002')", vec![1]),
        // NOT IN leaves out the null lookups (account 3 has no owner).
        ("OwnerId NOT IN ('005000000000002AAA')", vec![2, 4, 5]),
        ("OwnerId = null", vec![3]),
        ("OwnerId = '005000000000002AAA'", vec![1]),
        // parent paths (a dangling lookup reads as null)
        ("Owner.Name = 'Bob Boss'", vec![1]),
        ("Owner.Name = null", vec![3, 4]),
        ("Owner.Name != null", vec![1, 2, 5]),
        ("Owner.Manager.Name = 'Ada Admin'", vec![1]),
        ("owner.manager.name = null", vec![2, 3, 4, 5]),
        ("Owner.Name LIKE 'a%'", vec![2, 5]),
        // AND / OR / NOT / parentheses
        ("Industry = 'Tech' AND AnnualRevenue > 0", vec![1]),
        ("Industry = 'Retail' OR AnnualRevenue < 0", vec![2, 4]),
        (
            "Industry = 'Retail' or AnnualRevenue < 0 OR Name = 'Acme Corp'",
            vec![1, 2, 4],
        ),
        ("NOT Industry = 'Tech'", vec![2, 3, 5]),
        ("NOT (Industry = 'Tech' OR Industry = null)", vec![2, 5]),
        ("not not Industry = 'Tech'", vec![1, 4]),
        (
            "(Industry = 'Tech' OR Industry = 'Retail') AND IsActive__c = true",
            vec![1, 4],
        ),
        (
            "Industry = 'Tech' AND (AnnualRevenue > 0 OR NOT IsActive__c = true)",
            vec![1],
        ),
        (
            "NOT Industry = 'Tech' AND IsActive__c = false",
            vec![2, 3, 5],
        ),
        ("((Name = 'Acme Corp'))", vec![1]),
        (
            "(Name = 'Acme Corp') OR (Name = 'Nope' AND Id != null)",
            vec![1],
        ),
    ];
    for (condition, expected) in cases {
        let soql = format!("SELECT Id FROM Account WHERE {condition}");
        assert_eq!(account_numbers(&org, &soql), expected, "{soql}");
    }
}

#[test]
fn order_and_limit_table() {
    let org = org();
    let cases: Vec<(&str, Vec<u32>)> = vec![
        ("", vec![1, 2, 3, 4, 5]),
        // case-insensitive: "back…" sorts before "O'Brien…"
        ("ORDER BY Name", vec![3, 1, 4, 2, 5]),
        ("ORDER BY Name DESC", vec![5, 2, 4, 1, 3]),
        // ties ("Tech"/"tech") keep Id order in both directions
        ("ORDER BY Industry", vec![3, 5, 2, 1, 4]),
        ("ORDER BY Industry ASC", vec![3, 5, 2, 1, 4]),
        ("ORDER BY Industry DESC", vec![1, 4, 2, 5, 3]),
        ("ORDER BY Industry DESC NULLS FIRST", vec![3, 1, 4, 2, 5]),
        ("ORDER BY Industry ASC NULLS LAST", vec![5, 2, 1, 4, 3]),
        ("ORDER BY Industry NULLS LAST", vec![5, 2, 1, 4, 3]),
        ("ORDER BY AnnualRevenue", vec![3, 4, 5, 2, 1]),
        ("ORDER BY AnnualRevenue DESC", vec![1, 2, 5, 4, 3]),
        ("ORDER BY Industry, AnnualRevenue DESC", vec![3, 5, 2, 1, 4]),
        ("ORDER BY Industry, AnnualRevenue", vec![3, 5, 2, 4, 1]),
        ("ORDER BY IsActive__c DESC, Name", vec![1, 4, 3, 2, 5]),
        ("ORDER BY Owner.Name", vec![3, 4, 2, 5, 1]),
        ("ORDER BY CreatedDate", vec![5, 4, 2, 3, 1]),
        ("ORDER BY Last_CX_Update__c DESC", vec![4, 1, 2, 3, 5]),
        ("order by name limit 2", vec![3, 1]),
        ("LIMIT 2", vec![1, 2]),
        ("LIMIT 0", vec![]),
        ("LIMIT 100", vec![1, 2, 3, 4, 5]),
        (
            "WHERE Industry != null ORDER BY AnnualRevenue DESC LIMIT 3",
            vec![1, 2, 5],
        ),
    ];
    for (tail, expected) in cases {
        let soql = format!("SELECT Id FROM Account {tail}");
        assert_eq!(account_numbers(&org, &soql), expected, "{soql}");
    }
}

#[test]
fn rows_have_attributes_nested_parents_and_children() {
    let org = org();
    let rows = run(
        &org,
        "SELECT Id, Name, AnnualRevenue, Owner.Name, Owner.Manager.Name, Owner.Email, \
         (SELECT Name, StageName FROM Opportunities WHERE IsClosed = false OR IsWon = true ORDER BY CloseDate DESC) \
         FROM Account WHERE Id IN ('001000000000001AAA', '001000000000003AAA') ORDER BY Name",
    )
    .unwrap();
    let url = |t: &str, id: &str| format!("/services/data/v62.0/sobjects/{t}/{id}");
    assert_eq!(rows.len(), 2);
    assert_eq!(
        Value::Object(rows[0].json.clone()),
        json!({"attributes": {"type": "Account", "url": url("Account", &acc(3))},
               "Id": acc(3), "Name": "100% Pure_Juice", "AnnualRevenue": null, "Owner": null})
    );
    assert_eq!(
        rows[0].children,
        vec![("Opportunities".to_string(), vec![])]
    );
    assert_eq!(
        Value::Object(rows[1].json.clone()),
        json!({"attributes": {"type": "Account", "url": url("Account", &acc(1))},
               "Id": acc(1), "Name": "Acme Corp", "AnnualRevenue": 1000000,
               "Owner": {"attributes": {"type": "User", "url": url("User", &usr(2))},
                         "Name": "Bob Boss", "Email": "bob@example.com",
                         "Manager": {"attributes": {"type": "User", "url": url("User", &usr(1))},
                                     "Name": "Ada Admin"}}})
    );
    // JSON numbers stay integers.
    assert!(rows[1].json["AnnualRevenue"].is_i64());
    let (name, children) = &rows[1].children[0];
    assert_eq!(name, "Opportunities");
    let children: Vec<Value> = children
        .iter()
        .map(|r| Value::Object(r.json.clone()))
        .collect();
    assert_eq!(
        children,
        [
            json!({"attributes": {"type": "Opportunity", "url": url("Opportunity", &opp(1))},
                   "Name": "Acme Renewal", "StageName": "Prospecting"}),
            json!({"attributes": {"type": "Opportunity", "url": url("Opportunity", &opp(2))},
                   "Name": "Acme Won", "StageName": "Closed Won"}),
        ]
    );
}

#[test]
fn names_come_out_in_schema_spelling() {
    let org = org();
    let rows = execute(
        &org,
        &parse("select id, NAME, owner.name, (select NAME from OPPORTUNITIES) from account where id = '001000000000002AAA'").unwrap(),
        "58.0",
    )
    .unwrap();
    let json = Value::Object(rows[0].json.clone());
    assert_eq!(
        json,
        json!({"attributes": {"type": "Account", "url": "/services/data/v58.0/sobjects/Account/001000000000002AAA"},
               "Id": acc(2), "Name": "O'Brien's \"Pub\"",
               "Owner": {"attributes": {"type": "User", "url": "/services/data/v58.0/sobjects/User/005000000000001AAA"},
                         "Name": "Ada Admin"}})
    );
    assert_eq!(rows[0].children[0].0, "Opportunities");
    assert_eq!(rows[0].children[0].1[0].json["Name"], "Pub Upsell");
}

#[test]
fn a_dangling_lookup_is_null() {
    let org = org();
    let rows = run(
        &org,
        "SELECT Owner.Name, Owner.Manager.Name FROM Account WHERE Id = '001000000000004AAA'",
    )
    .unwrap();
    assert_eq!(Value::Object(rows[0].json.clone())["Owner"], Value::Null);
    // A present parent with an empty lookup of its own nests a null.
    let rows = run(
        &org,
        "SELECT Owner.Manager.Name FROM Account WHERE Id = '001000000000002AAA'",
    )
    .unwrap();
    assert_eq!(rows[0].json["Owner"]["Manager"], Value::Null);
}

#[test]
fn subqueries_filter_order_and_limit_per_parent() {
    let org = org();
    let child_names = |soql: &str| -> Vec<Vec<String>> {
        run(&org, soql)
            .unwrap()
            .iter()
            .map(|r| {
                r.children[0]
                    .1
                    .iter()
                    .map(|c| c.json["Name"].as_str().unwrap().to_string())
                    .collect()
            })
            .collect()
    };
    let base = |sub: &str| {
        format!("SELECT Id, ({sub}) FROM Account WHERE Id IN ('001000000000001AAA','001000000000002AAA','001000000000003AAA')")
    };
    assert_eq!(
        child_names(&base("SELECT Name FROM Opportunities")),
        [
            vec!["Acme Renewal", "Acme Won", "Acme Lost"],
            vec!["Pub Upsell"],
            vec![]
        ]
    );
    assert_eq!(
        child_names(&base(
            "SELECT Name FROM Opportunities WHERE IsClosed = false OR IsWon = true"
        )),
        [vec!["Acme Renewal", "Acme Won"], vec!["Pub Upsell"], vec![]]
    );
    assert_eq!(
        child_names(&base(
            "SELECT Name FROM Opportunities ORDER BY Amount DESC LIMIT 2"
        )),
        [vec!["Acme Won", "Acme Lost"], vec!["Pub Upsell"], vec![]]
    );
    assert_eq!(
        child_names(&base("SELECT Name FROM Opportunities WHERE Account.Name LIKE 'acme%' AND CloseDate < 2024-02-15 ORDER BY CloseDate")),
        [vec!["Acme Won", "Acme Lost"], vec![], vec![]]
    );
    // The parent's LIMIT applies to parents only.
    let rows = run(
        &org,
        "SELECT Id, (SELECT Id FROM Opportunities) FROM Account ORDER BY Name DESC LIMIT 4",
    )
    .unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r.children[0].1.len())
            .collect::<Vec<_>>(),
        [0, 1, 0, 3]
    );
    // Parent paths inside a subquery nest on the child rows.
    let rows = run(&org, "SELECT (SELECT Account.Name FROM Opportunities LIMIT 1) FROM Account WHERE Id = '001000000000001AAA'").unwrap();
    assert_eq!(
        rows[0].children[0].1[0].json["Account"]["Name"],
        "Acme Corp"
    );
}

#[test]
fn opportunity_queries_by_account_ids() {
    // The shape upsight's sync sends (fields.md §4.3).
    let org = org();
    let rows = run(
        &org,
        "SELECT Id, AccountId, Name, StageName, CloseDate, IsClosed, IsWon, Amount FROM Opportunity \
         WHERE AccountId IN ('001000000000001AAA', '001000000000002AAA') AND (IsClosed = false OR IsWon = true) \
         ORDER BY CloseDate DESC",
    )
    .unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r.json["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Acme Renewal", "Acme Won", "Pub Upsell"]);
    assert_eq!(rows[0].json["IsClosed"], false);
    assert_eq!(rows[2].json["CloseDate"], Value::Null);
}

#[test]
fn execute_error_table() {
    let org = org();
    let custom_field = "If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.";
    let custom_rel = "If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.";
    let cases: Vec<(&str, &str, usize, String)> = vec![
        ("SELECT Id, Foo FROM Account", "INVALID_FIELD", 12, format!("No such column 'Foo' on entity 'Account'. {custom_field}")),
        ("SELECT Id FROM Foo", "INVALID_TYPE", 16, "sObject type 'Foo' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.".into()),
        ("SELECT Id FROM ScratchOrgInfo limit 1", "INVALID_TYPE", 16, "sObject type 'ScratchOrgInfo' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.".into()),
        ("SELECT Id, (SELECT Id FROM Foos) FROM Account", "INVALID_TYPE", 28, format!("Didn't understand relationship 'Foos' in FROM part of query call. {custom_rel}")),
        ("SELECT Id, (SELECT Id FROM Opportunity) FROM Account", "INVALID_TYPE", 28, format!("Didn't understand relationship 'Opportunity' in FROM part of query call. {custom_rel}")),
        ("SELECT Id, (SELECT Foo FROM Opportunities) FROM Account", "INVALID_FIELD", 20, format!("No such column 'Foo' on entity 'Opportunity'. {custom_field}")),
        ("SELECT Bar.Name FROM Account", "INVALID_FIELD", 8, format!("Didn't understand relationship 'Bar' in field path. {custom_rel}")),
        ("SELECT Owner.Foo FROM Account", "INVALID_FIELD", 8, format!("No such column 'Foo' on entity 'User'. {custom_field}")),
        ("SELECT Owner FROM Account", "INVALID_FIELD", 8, format!("No such column 'Owner' on entity 'Account'. {custom_field}")),
        ("SELECT Name.Foo FROM Account", "INVALID_FIELD", 8, format!("Didn't understand relationship 'Name' in field path. {custom_rel}")),
        ("SELECT Id FROM Account WHERE Foo = 1", "INVALID_FIELD", 30, format!("No such column 'Foo' on entity 'Account'. {custom_field}")),
        ("SELECT Id FROM Account ORDER BY Foo", "INVALID_FIELD", 33, format!("No such column 'Foo' on entity 'Account'. {custom_field}")),
        ("SELECT Id FROM Account WHERE Description = 'x'", "INVALID_FIELD", 30, "field 'Description' can not be filtered in a query call".into()),
        ("SELECT Id FROM Account WHERE description LIKE 'x%'", "INVALID_FIELD", 30, "field 'Description' can not be filtered in a query call".into()),
        ("SELECT Id FROM Account ORDER BY Description", "INVALID_FIELD", 33, "field 'Description' can not be sorted in a query call".into()),
        ("SELECT Id FROM Account WHERE CreatedDate > '2024-01-01'", "INVALID_QUERY_FILTER_OPERATOR", 30, "value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes".into()),
        ("SELECT Id FROM Account WHERE CreatedDate > 2024-01-01", "INVALID_QUERY_FILTER_OPERATOR", 30, "value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes".into()),
        ("SELECT Id FROM Account WHERE Last_CX_Update__c = 2024-01-01T00:00:00Z", "INVALID_QUERY_FILTER_OPERATOR", 30, "value of filter criterion for field 'Last_CX_Update__c' must be of type date and should not be enclosed in quotes".into()),
        ("SELECT Id FROM Account WHERE name = 5", "INVALID_QUERY_FILTER_OPERATOR", 30, "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes".into()),
        ("SELECT Id FROM Account WHERE IsActive__c = 'true'", "INVALID_QUERY_FILTER_OPERATOR", 30, "value of filter criterion for field 'IsActive__c' must be of type boolean and should not be enclosed in quotes".into()),
        ("SELECT Id FROM Account WHERE AnnualRevenue IN (1, '5')", "INVALID_QUERY_FILTER_OPERATOR", 30, "value of filter criterion for field 'AnnualRevenue' must be of type double and should not be enclosed in quotes".into()),
        ("SELECT Id FROM Account WHERE NumberOfEmployees = true", "INVALID_QUERY_FILTER_OPERATOR", 30, "value of filter criterion for field 'NumberOfEmployees' must be of type int and should not be enclosed in quotes".into()),
        ("SELECT Id FROM Account WHERE Id = 5", "INVALID_QUERY_FILTER_OPERATOR", 30, "value of filter criterion for field 'Id' must be of type id and should be enclosed in quotes".into()),
        ("SELECT Id FROM Account WHERE Id = 'foo'", "INVALID_QUERY_FILTER_OPERATOR", 35, "invalid ID field: foo".into()),
        ("SELECT Id FROM Account WHERE OwnerId IN ('005000000000001AAA', '005-bad-id-0000000')", "INVALID_QUERY_FILTER_OPERATOR", 64, "invalid ID field: 005-bad-id-0000000".into()),
        ("SELECT Id FROM Account WHERE AnnualRevenue LIKE '5%'", "INVALID_QUERY_FILTER_OPERATOR", 30, "invalid operator on double field: AnnualRevenue".into()),
        ("SELECT Id, id FROM Account", "MALFORMED_QUERY", 12, "duplicate field selected: Id".into()),
        ("SELECT Owner.Name, owner.name FROM Account", "MALFORMED_QUERY", 20, "duplicate field selected: Owner.Name".into()),
        ("SELECT (SELECT Id FROM Opportunities), (SELECT Name FROM opportunities) FROM Account", "MALFORMED_QUERY", 58, "duplicate field selected: Opportunities".into()),
    ];
    for (soql, code, column, tail) in cases {
        let err = run(&org, soql).expect_err(soql);
        let expected = format!(
            "\n{soql}\n{}^\nERROR at Row:1:Column:{column}\n{tail}",
            " ".repeat(column - 1)
        );
        assert_eq!(
            (err.error_code, err.message.as_str()),
            (code, expected.as_str()),
            "{soql}"
        );
    }
    // Errors do not depend on there being records.
    let empty = Org {
        schema: schema(),
        records: BTreeMap::new(),
    };
    assert_eq!(
        run(&empty, "SELECT Id, Foo FROM Account")
            .unwrap_err()
            .error_code,
        "INVALID_FIELD"
    );
    // The short text area is filterable.
    assert_eq!(
        account_numbers(
            &org,
            "SELECT Id FROM Account WHERE Short_Note__c = null ORDER BY Short_Note__c"
        ),
        [1, 2, 3, 4, 5]
    );
}

#[test]
fn the_protocol_notes_error_message_verbatim() {
    let err = run(&org(), "SELECT Id, Foo FROM Account").unwrap_err();
    assert_eq!(
        err.message,
        "\nSELECT Id, Foo FROM Account\n           ^\nERROR at Row:1:Column:12\nNo such column 'Foo' on entity 'Account'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
    );
    assert_eq!(err.error_code, "INVALID_FIELD");
}

#[test]
fn positions_count_rows_and_characters() {
    let org = org();
    let err = run(&org, "SELECT Id\nFROM Account\nWHERE Nme = 'x'").unwrap_err();
    assert!(
        err.message.starts_with(
            "\nWHERE Nme = 'x'\n      ^\nERROR at Row:3:Column:7\nNo such column 'Nme'"
        ),
        "{:?}",
        err.message
    );
    // Columns count characters, not bytes.
    let err = run(
        &org,
        "SELECT Id FROM Account WHERE Name = 'ü日' AND Foo = 1",
    )
    .unwrap_err();
    assert!(
        err.message.contains("ERROR at Row:1:Column:46\n"),
        "{:?}",
        err.message
    );
    let err = parse("SELECT Id\r\nFROM Account WHERE Name = 'a' BAD").unwrap_err();
    assert!(err.message.starts_with("\nFROM Account WHERE Name = 'a' BAD\n                              ^\nERROR at Row:2:Column:31\nunexpected token: BAD"), "{:?}", err.message);
}

#[test]
fn column_metadata_has_the_real_shape() {
    let org = org();
    let q = parse("SELECT Id, Name, Owner.Name, Owner.Manager.Name, (SELECT Id, Amount FROM Opportunities) FROM Account").unwrap();
    let meta = column_metadata(&org, &q);
    let column = |name: &str,
                  apex: Value,
                  fk: Value,
                  insertable: bool,
                  updatable: bool,
                  joins: Value,
                  aggregate: bool,
                  text: bool,
                  number: bool| {
        json!({"aggregate": aggregate, "apexType": apex, "booleanType": false, "columnName": name,
               "custom": false, "displayName": name, "foreignKeyName": fk, "insertable": insertable,
               "joinColumns": joins, "numberType": number, "textType": text, "updatable": updatable})
    };
    let expected = json!({
        "columnMetadata": [
            column("Id", json!("Id"), Value::Null, false, false, json!([]), false, false, false),
            column("Name", json!("String"), Value::Null, true, true, json!([]), false, true, false),
            column("Owner", Value::Null, json!("OwnerId"), false, false, json!([
                column("Name", json!("String"), Value::Null, false, false, json!([]), false, true, false),
                column("Manager", Value::Null, json!("ManagerId"), false, false, json!([
                    column("Name", json!("String"), Value::Null, false, false, json!([]), false, true, false),
                ]), false, false, false),
            ]), false, false, false),
            column("Opportunities", Value::Null, Value::Null, false, false, json!([
                column("Id", json!("Id"), Value::Null, false, false, json!([]), false, false, false),
                column("Amount", json!("Decimal"), Value::Null, true, true, json!([]), false, false, true),
            ]), true, false, false),
        ],
        "entityName": "Account",
        "groupBy": false,
        "idSelected": true,
        "keyPrefix": "001",
    });
    assert_eq!(meta, expected);

    let meta = column_metadata(&org, &parse("SELECT IsActive__c FROM account").unwrap());
    assert_eq!(meta["idSelected"], false);
    assert_eq!(meta["entityName"], "Account");
    assert_eq!(meta["columnMetadata"][0]["booleanType"], true);
    assert_eq!(meta["columnMetadata"][0]["custom"], true);
    assert_eq!(meta["columnMetadata"][0]["apexType"], "Boolean");

    // A query that would not execute still gets an array (sf needs one).
    let meta = column_metadata(&org, &parse("SELECT Foo FROM Account").unwrap());
    assert_eq!(meta["columnMetadata"], json!([]));
    assert_eq!(meta["keyPrefix"], "001");
    let meta = column_metadata(&org, &parse("SELECT Id FROM Nope").unwrap());
    assert_eq!(meta["columnMetadata"], json!([]));
    assert_eq!(meta["keyPrefix"], Value::Null);
}

// ------------------------------------------------------------------------------------------
// Properties

/// A SOQL string literal body for `s`, following fields.md §4.1: backslash first, then the
/// quote and the control characters. With `unicode`, every non-ASCII character is written as
/// `\uXXXX` UTF-16 units instead, to exercise that path too.
fn escape(s: &str, unicode: bool) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if unicode && !c.is_ascii() => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn escape_like(s: &str, unicode: bool) -> String {
    escape(s, unicode).replace('%', "\\%").replace('_', "\\_")
}

fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// An org whose accounts have the given names, Ids 1.., plus fixed decoys.
fn named_org(names: &[String]) -> Org {
    let mut org = Org {
        schema: schema(),
        records: BTreeMap::new(),
    };
    let decoys = [
        "a%b",
        "a_b",
        "axb",
        "A%B",
        "100% Pure_Juice",
        "O'Brien",
        "back\\slash",
        "%",
        "_",
        "",
    ];
    for (i, name) in names.iter().map(String::as_str).chain(decoys).enumerate() {
        insert(
            &mut org,
            "Account",
            json!({"Id": acc(i as u32 + 1), "Name": name}),
        );
    }
    org
}

fn matching_ids(org: &Org, soql: &str) -> Vec<String> {
    run(org, soql)
        .unwrap_or_else(|e| panic!("{soql:?}: {e}"))
        .iter()
        .map(|r| r.json["Id"].as_str().unwrap().to_string())
        .collect()
}

fn expected_ids(org: &Org, keep: impl Fn(&str) -> bool) -> Vec<String> {
    org.records["Account"]
        .values()
        .filter(|r| keep(r.fields["Name"].as_str().unwrap()))
        .map(|r| r.id().to_string())
        .collect()
}

/// Interesting characters for names: the escaped ones, wildcards, quotes, non-ASCII (including
/// astral-plane and case-changing ones), plus arbitrary characters.
fn name_strategy() -> impl Strategy<Value = String> {
    let interesting = prop_oneof![
        Just('\\'),
        Just('\''),
        Just('"'),
        Just('%'),
        Just('_'),
        Just('\n'),
        Just('\r'),
        Just('\t'),
        Just('\u{8}'),
        Just('\u{c}'),
        Just('a'),
        Just('B'),
        Just('ü'),
        Just('Σ'),
        Just('😀'),
        Just(' '),
        any::<char>(),
    ];
    prop::collection::vec(interesting, 0..12).prop_map(|chars| chars.into_iter().collect())
}

/// Words for the token-soup strategy: SOQL's vocabulary, valid and invalid literals.
const SOUP: &[&str] = &[
    "SELECT",
    "select",
    "Id",
    "Name",
    "Owner.Name",
    "Owner",
    ".",
    ",",
    "(",
    ")",
    "FROM",
    "Account",
    "Opportunities",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "=",
    "!=",
    "<>",
    "<",
    ">=",
    "'a\\'b'",
    "'%\\_'",
    "'\\u00e9'",
    "'\\q'",
    "'",
    "\\",
    "12",
    "-3.5",
    "2024-01-15",
    "2024-01-15T10:00:00Z",
    "null",
    "true",
    "ORDER",
    "BY",
    "DESC",
    "NULLS",
    "LAST",
    "LIMIT",
    "AnnualRevenue",
    "CreatedDate",
    "Industry",
    "Id = '001000000000001AAA'",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn equality_round_trips_any_string(s in name_strategy(), unicode in any::<bool>()) {
        let org = named_org(std::slice::from_ref(&s));
        let soql = format!("SELECT Id FROM Account WHERE Name = '{}'", escape(&s, unicode));
        let got = matching_ids(&org, &soql);
        prop_assert!(got.contains(&acc(1)), "{:?} did not match its own record: {:?}", soql, got);
        // Salesforce compares text case-insensitively, and '' is null.
        let want = expected_ids(&org, |name| fold(name) == fold(&s));
        prop_assert_eq!(got, want);
    }

    #[test]
    fn escaped_like_matches_literally(s in name_strategy(), unicode in any::<bool>()) {
        let org = named_org(std::slice::from_ref(&s));
        let pattern = escape_like(&s, unicode);
        let exact = format!("SELECT Id FROM Account WHERE Name LIKE '{pattern}'");
        // LIKE never matches null, so the empty name matches only an all-wildcard pattern.
        let want = expected_ids(&org, |name| !name.is_empty() && fold(name) == fold(&s));
        prop_assert_eq!(matching_ids(&org, &exact), want);
        let contains = format!("SELECT Id FROM Account WHERE Name LIKE '%{pattern}%'");
        let want = expected_ids(&org, |name| !name.is_empty() && fold(name).contains(&fold(&s)));
        prop_assert_eq!(matching_ids(&org, &contains), want);
    }

    #[test]
    fn parser_never_panics_on_arbitrary_text(text in any::<String>()) {
        if let Err(e) = parse(&text) {
            prop_assert_eq!(e.error_code, "MALFORMED_QUERY");
        }
    }

    #[test]
    fn parser_and_executor_never_panic_on_token_soup(
        words in prop::collection::vec(
            prop_oneof![prop::sample::select(SOUP).prop_map(String::from), "[ -~]{0,3}"],
            0..24,
        ),
        glue in prop_oneof![Just(" "), Just(""), Just("\n")],
    ) {
        let text = words.join(glue);
        match parse(&text) {
            Err(e) => prop_assert_eq!(e.error_code, "MALFORMED_QUERY"),
            Ok(q) => {
                let org = org();
                match execute(&org, &q, "v62.0") {
                    Ok(_) => {}
                    Err(e) => prop_assert!(
                        ["INVALID_FIELD", "INVALID_TYPE", "MALFORMED_QUERY", "INVALID_QUERY_FILTER_OPERATOR"]
                            .contains(&e.error_code),
                        "{:?}", e
                    ),
                }
                let meta = column_metadata(&org, &q);
                prop_assert!(meta["columnMetadata"].is_array());
            }
        }
    }
}

#[test]
fn a_valid_query_from_the_soup_executes() {
    // Sanity check that the soup strategy can produce executable queries at all.
    let q = parse("SELECT Id, Owner.Name FROM Account WHERE Industry IN ('x') OR NOT AnnualRevenue < -3.5 ORDER BY CreatedDate DESC NULLS LAST LIMIT 12").unwrap();
    // Account 4 (revenue -10) is the only one excluded.
    assert_eq!(execute(&org(), &q, "v62.0").unwrap().len(), 4);
}

// ------------------------------------------------------------------------------------------
// Aggregates

fn answer(org: &Org, soql: &str) -> Answer {
    run_answer(org, soql).unwrap_or_else(|e| panic!("{soql}: {e}"))
}

fn run_answer(org: &Org, soql: &str) -> Result<Answer, SoqlError> {
    super::run(org, &parse(soql)?, "v62.0")
}

fn aggregate_rows(org: &Org, soql: &str) -> Vec<Value> {
    match answer(org, soql) {
        Answer::Rows(rows) => rows.into_iter().map(|r| Value::Object(r.json)).collect(),
        Answer::Count(n) => panic!("{soql}: a count ({n}), not rows"),
    }
}

#[test]
fn count_all_counts_matching_rows_and_honours_limit() {
    let org = org();
    assert_eq!(
        answer(&org, "SELECT COUNT() FROM Account"),
        Answer::Count(5)
    );
    assert_eq!(
        answer(&org, "select count() from Account where Industry = 'tech'"),
        Answer::Count(2)
    );
    assert_eq!(
        answer(&org, "SELECT COUNT() FROM Account LIMIT 3"),
        Answer::Count(3)
    );
    assert_eq!(
        answer(
            &org,
            "SELECT COUNT() FROM Opportunity WHERE Account.Name = 'Acme Corp'"
        ),
        Answer::Count(3)
    );
    // `execute` gives no rows for a count.
    assert!(run(&org, "SELECT COUNT() FROM Account").unwrap().is_empty());
}

#[test]
fn count_field_answers_aggregate_results() {
    let org = org();
    let attrs = json!({"type": "AggregateResult"});
    assert_eq!(
        aggregate_rows(&org, "SELECT COUNT(Id) FROM Account"),
        [json!({"attributes": attrs, "expr0": 5})]
    );
    // Non-null values only; the implied alias counts unaliased aggregates; aliases stay.
    assert_eq!(
        aggregate_rows(
            &org,
            "SELECT COUNT(Id) total, COUNT(Industry), COUNT(AnnualRevenue) FROM Account"
        ),
        [json!({"attributes": attrs, "total": 5, "expr0": 4, "expr1": 4})]
    );
    // Over no rows, one row with 0.
    assert_eq!(
        aggregate_rows(&org, "SELECT COUNT(Id) FROM Account WHERE Name = 'nobody'"),
        [json!({"attributes": attrs, "expr0": 0})]
    );
    // GROUP BY: one row per value, ascending (nulls first) unless ordered.
    assert_eq!(
        aggregate_rows(
            &org,
            "SELECT StageName, COUNT(Id) n FROM Opportunity GROUP BY StageName"
        ),
        [
            json!({"attributes": attrs, "StageName": "Closed Lost", "n": 1}),
            json!({"attributes": attrs, "StageName": "Closed Won", "n": 1}),
            json!({"attributes": attrs, "StageName": "Prospecting", "n": 3}),
        ]
    );
    assert_eq!(
        aggregate_rows(
            &org,
            "SELECT AccountId, COUNT(Id) FROM Opportunity GROUP BY AccountId ORDER BY AccountId DESC NULLS LAST LIMIT 2"
        ),
        [
            json!({"attributes": attrs, "AccountId": acc(2), "expr0": 1}),
            json!({"attributes": attrs, "AccountId": acc(1), "expr0": 3}),
        ]
    );
}

#[test]
fn aggregate_refusals() {
    let org = org();
    let cases: &[(&str, &str, usize, &str)] = &[
        ("SELECT Id, COUNT() FROM Account", "MALFORMED_QUERY", 12, "COUNT() must be the only element in the SELECT list"),
        ("SELECT COUNT() FROM Account ORDER BY Name", "MALFORMED_QUERY", 8, "COUNT() can't be used with an ORDER BY clause"),
        ("SELECT COUNT() FROM Account GROUP BY Name", "MALFORMED_QUERY", 8, "COUNT() can't be used with a GROUP BY clause"),
        ("SELECT Name, COUNT(Id) FROM Account", "MALFORMED_QUERY", 8, "Field must be grouped or aggregated: Name"),
        ("SELECT Industry, COUNT(Id) FROM Account GROUP BY Industry ORDER BY Name", "MALFORMED_QUERY", 68, "Ordered field must be grouped or aggregated: Name"),
        ("SELECT AnnualRevenue FROM Account GROUP BY AnnualRevenue", "INVALID_FIELD", 44, "field 'AnnualRevenue' can not be grouped in a query call"),
        ("SELECT COUNT(IsActive__c) FROM Account", "INVALID_FIELD", 14, "field IsActive__c does not support aggregate operator COUNT"),
        ("SELECT COUNT(Id) n, COUNT(Name) n FROM Account", "MALFORMED_QUERY", 33, "duplicate alias: n"),
        ("SELECT Id, (SELECT COUNT() FROM Opportunities) FROM Account", "MALFORMED_QUERY", 33, "aggregate functions and GROUP BY are not supported in a subquery"),
        ("SELECT COUNT(Foo) FROM Account", "INVALID_FIELD", 14, "No such column 'Foo' on entity 'Account'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."),
        // Not implemented: refused where the grammar stops.
        ("SELECT SUM(AnnualRevenue) FROM Account", "MALFORMED_QUERY", 11, "unexpected token: ("),
        ("SELECT Industry, COUNT(Id) FROM Account GROUP BY Industry HAVING COUNT(Id) > 1", "MALFORMED_QUERY", 59, "unexpected token: HAVING"),
        ("SELECT Industry FROM Account GROUP BY ROLLUP(Industry)", "MALFORMED_QUERY", 45, "unexpected token: ("),
    ];
    for (soql, code, column, tail) in cases {
        let err = run_answer(&org, soql).expect_err(soql);
        let expected = format!(
            "\n{soql}\n{}^\nERROR at Row:1:Column:{column}\n{tail}",
            " ".repeat(column - 1)
        );
        assert_eq!(
            (err.error_code, err.message.as_str()),
            (*code, expected.as_str()),
            "{soql}"
        );
    }
}

#[test]
fn a_statement_that_is_not_a_select_names_its_first_word() {
    // Recorded: `SELEKT Name FROM Account` -> "unexpected token: SELEKT", no position.
    let err = parse("SELEKT Name FROM Account").unwrap_err();
    assert_eq!(
        (err.error_code, err.message.as_str()),
        ("MALFORMED_QUERY", "unexpected token: SELEKT")
    );
}
