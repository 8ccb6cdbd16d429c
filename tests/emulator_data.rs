//! Refreshes that move real rows: the emulator backs each PostgreSQL and MySQL instance and
//! Aurora cluster with a real database (tests/emulator/data.py), reached through the endpoint
//! it reports with the master password. The scenario (`tests/scenarios/data.json`) seeds
//! production and demo with different rows and passwords; one server of each engine serves
//! every test of this file.

mod support;

use support::*;

const SHOP_PROD: &str = "prod-password-1";
const SHOP_DEMO: &str = "demo-password-1";
const CRM_PROD: &str = "crm-prod-password";
const CRM_DEMO: &str = "crm-demo-password";
const BOOKS_PROD: &str = "books-prod-password";
const BOOKS_DEMO: &str = "books-demo-password";

/// Production's customers, as seeded.
const SHOP_ROWS: &str = "1\tAda Lovelace\tada@example.com\n\
                         2\tAlan Turing\talan@example.com\n\
                         3\tGrace Hopper\tgrace@example.com\n";
/// The same customers once the before-swap command has scrubbed them.
const SHOP_SCRUBBED: &str = "1\tCustomer 1\tcustomer1@example.invalid\n\
                             2\tCustomer 2\tcustomer2@example.invalid\n\
                             3\tCustomer 3\tcustomer3@example.invalid\n";
const SHOP_OLD_DEMO: &str = "9\tOld Demo Row\told@demo.invalid\n";
const CUSTOMERS: &str = "SELECT id, name, email FROM customers ORDER BY id";
/// Orders carry no personal data: the scrub leaves them as production has them.
const ORDERS: &str = "SELECT count(*), sum(total) FROM orders";

/// The scrub a team would run before the swap: SQL through psql against the clone's
/// endpoint, from the hook's environment (the password comes from the caller's PGPASSWORD).
const PSQL_SCRUB: &str = "psql -X -q -v ON_ERROR_STOP=1 -h \"$STACK_MITOSIS_ENDPOINT_ADDRESS\" \
    -p \"$STACK_MITOSIS_ENDPOINT_PORT\" -U admin -d app -c \
    \"UPDATE customers SET name = 'Customer ' || id, email = 'customer' || id || '@example.invalid'\"";
const MYSQL_SCRUB: &str = "mariadb -h \"$STACK_MITOSIS_ENDPOINT_ADDRESS\" \
    -P \"$STACK_MITOSIS_ENDPOINT_PORT\" -u admin -e \
    \"UPDATE contacts SET name = CONCAT('Contact ', id), phone = NULL\"";
const CONTACTS: &str = "SELECT id, name, phone FROM contacts ORDER BY id";
const CRM_ROWS: &str = "1\tAda Lovelace\t+44 20 7946 0018\n2\tAlan Turing\t+44 20 7946 0912\n";
const CRM_SCRUBBED: &str = "1\tContact 1\tNULL\n2\tContact 2\tNULL\n";
const CRM_OLD_DEMO: &str = "7\tOld Demo Contact\t000\n";

fn rows(emu: &Emulator, id: &str, password: &str, query: &str) -> String {
    emu.sql(id, password, query)
        .unwrap_or_else(|e| panic!("{id}: {query}: {e}"))
}

fn refused(emu: &Emulator, id: &str, password: &str, query: &str) -> String {
    match emu.sql(id, password, query) {
        Ok(out) => panic!("{id}: {query} should have been refused, gave {out:?}"),
        Err(e) => e,
    }
}

fn shop_unchanged(emu: &Emulator) {
    for id in ["shop-prod", "shop-prod-ro"] {
        assert_eq!(rows(emu, id, SHOP_PROD, CUSTOMERS), SHOP_ROWS, "{id}");
        assert_eq!(rows(emu, id, SHOP_PROD, ORDERS), "4\t74.74\n", "{id}");
    }
}

/// A PostgreSQL tree refreshed with a scrub and the target's own password: the root and its
/// replica hold production's rows (not the old demo's), scrubbed; production's rows are
/// untouched; demo's application logs in with demo's password (production's is refused);
/// the replica refuses writes, as an RDS replica does.
#[test]
fn postgres_tree_holds_production_rows_scrubbed_and_keeps_its_password() {
    let emu = Emulator::with_data();
    emu.seed("data");
    assert_eq!(rows(&emu, "shop-demo", SHOP_DEMO, CUSTOMERS), SHOP_OLD_DEMO);
    let out = apply(
        &emu,
        &[
            "--source",
            "shop-prod",
            "--target",
            "shop-demo",
            "--master-password-secret",
            "shop-demo-master",
            "--before-swap",
            PSQL_SCRUB,
        ],
        &[("PGPASSWORD", SHOP_DEMO)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for id in ["shop-demo", "shop-demo-ro"] {
        assert_eq!(rows(&emu, id, SHOP_DEMO, CUSTOMERS), SHOP_SCRUBBED, "{id}");
        assert_eq!(rows(&emu, id, SHOP_DEMO, ORDERS), "4\t74.74\n", "{id}");
    }
    shop_unchanged(&emu);
    let e = refused(&emu, "shop-demo", SHOP_PROD, "SELECT 1");
    assert!(e.contains("password authentication failed"), "{e}");
    let e = refused(&emu, "shop-demo-ro", SHOP_DEMO, "DELETE FROM customers");
    assert!(e.contains("read-only transaction"), "{e}");
    // The refreshed root takes writes (it is no replica).
    rows(
        &emu,
        "shop-demo",
        SHOP_DEMO,
        "INSERT INTO orders VALUES (200, 1, 1)",
    );
    assert_eq!(rows(&emu, "shop-demo-ro", SHOP_DEMO, ORDERS), "5\t75.74\n");
    assert_eq!(rows(&emu, "shop-prod", SHOP_PROD, ORDERS), "4\t74.74\n");
    // The old tree's data went with it.
    emu.assert_no_stray_data();
}

/// Every way to take production's data copies its rows into the clone: the latest automated
/// snapshot (the nightly backup after the seed), a fresh snapshot, and a point-in-time
/// restore. Without a password secret the clone has production's password, as on RDS.
#[test]
fn snapshot_and_point_in_time_restores_carry_the_rows() {
    let emu = Emulator::with_data();
    for how in [
        &["--snapshot", "latest"][..],
        &["--snapshot", "fresh"],
        &["--source-time", "latest"],
    ] {
        emu.reset();
        emu.seed("data");
        let mut args = vec!["--source", "shop-prod", "--target", "shop-demo"];
        args.extend_from_slice(how);
        let out = apply(&emu, &args, &[]);
        assert!(out.status.success(), "{how:?}: {}", stderr(&out));
        for id in ["shop-demo", "shop-demo-ro"] {
            assert_eq!(
                rows(&emu, id, SHOP_PROD, CUSTOMERS),
                SHOP_ROWS,
                "{how:?} {id}"
            );
        }
        let e = refused(&emu, "shop-demo", SHOP_DEMO, "SELECT 1");
        assert!(e.contains("password authentication failed"), "{how:?}: {e}");
        shop_unchanged(&emu);
        // A fresh snapshot's copy goes with the snapshot, once the clone exists.
        emu.assert_no_stray_data();
    }
}

/// `rollback` after `--until swap` puts demo's own rows back under its names, on the root and
/// the replica, with its own password.
#[test]
fn rollback_brings_back_the_old_rows() {
    let emu = Emulator::with_data();
    emu.seed("data");
    let target = ["--source", "shop-prod", "--target", "shop-demo"];
    let mut first = target.to_vec();
    first.extend(["--before-swap", PSQL_SCRUB, "--until", "swap"]);
    let out = apply(&emu, &first, &[("PGPASSWORD", SHOP_PROD)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(rows(&emu, "shop-demo", SHOP_PROD, CUSTOMERS), SHOP_SCRUBBED);
    let mut back = vec!["rollback"];
    back.extend_from_slice(&target);
    back.extend_from_slice(FAST);
    let out = emu.cli(&back);
    assert!(out.status.success(), "{}", stderr(&out));
    for id in ["shop-demo", "shop-demo-ro"] {
        assert_eq!(rows(&emu, id, SHOP_DEMO, CUSTOMERS), SHOP_OLD_DEMO, "{id}");
    }
    shop_unchanged(&emu);
    emu.assert_no_stray_data();
}

/// MySQL: the tree gets production's contacts scrubbed by a `mariadb` command; production keeps
/// its own; with no secret the clone carries production's password. A failing restart command
/// then rolls a second refresh back: demo has its own rows and password again.
#[test]
fn mysql_tree_refreshed_scrubbed_and_rolled_back() {
    let emu = Emulator::with_data();
    emu.seed("data");
    let target = ["--source", "crm-prod", "--target", "crm-demo"];
    let mut args = target.to_vec();
    args.extend(["--before-swap", MYSQL_SCRUB]);
    let out = apply(&emu, &args, &[("MYSQL_PWD", CRM_PROD)]);
    assert!(out.status.success(), "{}", stderr(&out));
    for id in ["crm-demo", "crm-demo-ro"] {
        assert_eq!(rows(&emu, id, CRM_PROD, CONTACTS), CRM_SCRUBBED, "{id}");
    }
    for id in ["crm-prod", "crm-prod-ro"] {
        assert_eq!(rows(&emu, id, CRM_PROD, CONTACTS), CRM_ROWS, "{id}");
    }
    let e = refused(&emu, "crm-demo", CRM_DEMO, "SELECT 1");
    assert!(e.contains("Access denied"), "{e}");
    let e = refused(&emu, "crm-demo-ro", CRM_PROD, "DELETE FROM contacts");
    assert!(e.contains("command denied"), "{e}");

    emu.reset();
    emu.seed("data");
    let mut args = target.to_vec();
    args.extend(["--restart", "exit 1"]);
    let out = apply(&emu, &args, &[]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    for id in ["crm-demo", "crm-demo-ro"] {
        assert_eq!(rows(&emu, id, CRM_DEMO, CONTACTS), CRM_OLD_DEMO, "{id}");
    }
    assert_eq!(rows(&emu, "crm-prod", CRM_PROD, CONTACTS), CRM_ROWS);
    // The rolled-back clones' data went with them.
    emu.assert_no_stray_data();
}

/// An Aurora PostgreSQL cluster: the copy-on-write clone holds production's rows, scrubbed
/// through the writer endpoint the hook is given; the writer and reader endpoints and every
/// member read them with the target's password; the reader endpoint refuses writes;
/// production's cluster is untouched.
#[test]
fn aurora_clone_holds_production_rows() {
    let emu = Emulator::with_data();
    emu.seed("data");
    let scrub = "psql -X -q -v ON_ERROR_STOP=1 -h \"$STACK_MITOSIS_ENDPOINT_ADDRESS\" \
        -p \"$STACK_MITOSIS_ENDPOINT_PORT\" -U admin -d app -c \
        \"UPDATE readers SET name = 'Reader ' || id, email = NULL\"";
    let out = apply(
        &emu,
        &[
            "--source",
            "books-prod",
            "--target",
            "books-demo",
            "--master-password-secret",
            "books-demo-master",
            "--before-swap",
            scrub,
        ],
        &[("PGPASSWORD", BOOKS_DEMO)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let readers = "SELECT id, name, email FROM readers ORDER BY id";
    let scrubbed = "1\tReader 1\t\n2\tReader 2\t\n";
    for id in [
        "cluster:books-demo",
        "reader:books-demo",
        "books-demo-1",
        "books-demo-2",
    ] {
        assert_eq!(rows(&emu, id, BOOKS_DEMO, readers), scrubbed, "{id}");
    }
    let e = refused(&emu, "reader:books-demo", BOOKS_DEMO, "DELETE FROM readers");
    assert!(e.contains("read-only transaction"), "{e}");
    assert_eq!(
        rows(&emu, "cluster:books-prod", BOOKS_PROD, readers),
        "1\tAda Lovelace\tada@example.com\n2\tAlan Turing\talan@example.com\n"
    );
    emu.assert_no_stray_data();
}

/// An environment of a PostgreSQL and a MySQL tree refreshed in one run (`--config`): each
/// before-swap command scrubs its own clone (the engine's client, chosen by the target), each
/// target keeps the password of its secret, and production keeps its rows.
#[test]
fn environment_of_two_engines_keeps_each_targets_password() {
    let emu = Emulator::with_data();
    emu.seed("data");
    let config = repo().join("tests/scenarios/data.toml");
    let scrub = format!(
        "case $STACK_MITOSIS_TARGET in shop-demo) {PSQL_SCRUB} ;; crm-demo) {MYSQL_SCRUB} ;; esac"
    );
    let out = apply(
        &emu,
        &[
            "--config",
            config.to_str().unwrap(),
            "--source",
            "production",
            "--target",
            "demo",
            "--before-swap",
            &scrub,
        ],
        &[("PGPASSWORD", SHOP_DEMO), ("MYSQL_PWD", CRM_DEMO)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for id in ["shop-demo", "shop-demo-ro"] {
        assert_eq!(rows(&emu, id, SHOP_DEMO, CUSTOMERS), SHOP_SCRUBBED, "{id}");
    }
    for id in ["crm-demo", "crm-demo-ro"] {
        assert_eq!(rows(&emu, id, CRM_DEMO, CONTACTS), CRM_SCRUBBED, "{id}");
    }
    let e = refused(&emu, "crm-demo", CRM_PROD, "SELECT 1");
    assert!(e.contains("Access denied for user 'admin'"), "{e}");
    shop_unchanged(&emu);
    assert_eq!(rows(&emu, "crm-prod", CRM_PROD, CONTACTS), CRM_ROWS);
    emu.assert_no_stray_data();
}

/// Production in another account: its rows travel through the shared snapshot hand-over
/// (its latest automated snapshot, copied, shared, copied into the target's account, restored)
/// into demo's root and replica, which keep demo's password; production's rows are unchanged
/// and no copy of them is left behind in either account.
#[test]
fn rows_from_another_account() {
    let emu = Emulator::with_data();
    emu.seed("data-cross-account");
    let out = apply(
        &emu,
        &[
            "--source",
            "shop-prod",
            "--target",
            "shop-demo",
            "--source-role-arn",
            "arn:aws:iam::222222222222:role/prod-refresh",
            "--source-kms-key-id",
            "alias/refresh-share",
            "--master-password-secret",
            "shop-demo-master",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for id in ["shop-demo", "shop-demo-ro"] {
        assert_eq!(rows(&emu, id, SHOP_DEMO, CUSTOMERS), SHOP_ROWS, "{id}");
    }
    let prod = emu
        .sql_in(Some("222222222222"), "shop-prod", SHOP_PROD, CUSTOMERS)
        .expect("production's rows");
    assert_eq!(prod, SHOP_ROWS);
    emu.assert_no_stray_data();
}
