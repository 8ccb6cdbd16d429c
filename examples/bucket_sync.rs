//! The bucket sync of an environment refresh, alone: `bucket_sync SOURCE TARGET [CONCURRENCY]`
//! (default: the tool's) makes TARGET
//! hold SOURCE's objects with the AWS settings of the environment (AWS_ENDPOINT_URL, ...) and
//! prints what it copied and deleted as JSON, and its peak memory (VmHWM) on stderr. `scripts/bench-buckets` times it against
//! `aws s3 sync` on the emulator.

use stack_mitosis::aws::AwsSettings;
use stack_mitosis::kinds::bucket::{
    sync, BucketRead, OwnedBucket, SdkS3, SyncPart, SYNC_CONCURRENCY,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (source, target, concurrency) = match args.as_slice() {
        [s, t] => (s, t, SYNC_CONCURRENCY),
        [s, t, n] => (s, t, n.parse()?),
        _ => return Err("usage: bucket_sync SOURCE TARGET [CONCURRENCY]".into()),
    };
    let env = SdkS3::connect(&AwsSettings::default()).await;
    // Both buckets are the account's own.
    let owner = env.account().await?;
    let done = sync(
        &env,
        &OwnedBucket::new(source, &owner),
        &OwnedBucket::new(target, &owner),
        SyncPart::Both,
        concurrency,
        &|_| {},
    )
    .await?;
    println!(
        "{{\"copied\": {}, \"bytes\": {}, \"deleted\": {}}}",
        done.copy, done.copy_bytes, done.delete
    );
    // This process's own peak memory (the benchmark reads it: a parent's rusage of a child
    // also counts the pages the child had before exec, copied from the parent at fork).
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM")) {
            eprintln!("{line}");
        }
    }
    Ok(())
}
