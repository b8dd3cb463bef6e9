//! The facts reader's peak memory stays within ten times the body's size, on bodies of nothing but
//! new incoming calls (the case that keeps the most facts). The full model's peak is printed beside
//! it, for comparison only.
//!
//! This file holds a single test, so that no other test allocates while it measures.

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a test fails by panicking and reports what it measured"
)]

use callhook_model::{CommsNotifications, read_facts};
use std::alloc::System;

#[global_allocator]
static ALLOCATOR: cap::Cap<System> = cap::Cap::new(System, usize::MAX);

/// The bound the server needs: the extra memory of a request within ten times its body.
const MAX_RATIO: f64 = 10.0;

#[test]
fn read_facts_peaks_within_ten_times_the_body() {
    // 256 KiB of the smallest items that are new incoming calls: the most facts per byte.
    let minimal = body_filling(256 * 1024, minimal_incoming_call);
    // 256 KiB of small incoming calls that carry a callbackUri, a source and a target.
    let small = body_filling(256 * 1024, small_incoming_call);
    // 2,221 incoming calls as the documentation and real traffic write them.
    let documented = body_of(2_221, documented_incoming_call);

    for (name, body, calls) in [
        ("256 KiB of minimal incoming calls", &minimal.0, minimal.1),
        ("256 KiB of small incoming calls", &small.0, small.1),
        ("2,221 documented incoming calls", &documented, 2_221),
    ] {
        let (facts, peak) = peak_extra_memory(|| read_facts(body.as_bytes()).unwrap());
        assert_eq!(facts.new_incoming_calls().len(), calls, "{name}");
        drop(facts);
        let (model, model_peak) = peak_extra_memory(|| {
            CommsNotifications::from_value(serde_json::from_str(body).unwrap()).unwrap()
        });
        assert_eq!(model.new_incoming_calls().count(), calls, "{name}");
        drop(model);

        let ratio = peak as f64 / body.len() as f64;
        let model_ratio = model_peak as f64 / body.len() as f64;
        println!(
            "{name} ({calls} calls, {} bytes): read_facts peak {peak} bytes = {ratio:.2}x the body; \
             the full model {model_peak} bytes = {model_ratio:.1}x",
            body.len()
        );
        assert!(
            ratio <= MAX_RATIO,
            "{name}: read_facts took {ratio:.2}x the body, more than {MAX_RATIO}x"
        );
    }
}

/// Runs `work` and returns what it gives with the peak of the memory allocated meanwhile, above
/// what was allocated before (what it returns still counts: it is part of the peak).
fn peak_extra_memory<T>(work: impl FnOnce() -> T) -> (T, usize) {
    // The allocator keeps only an all-time peak. Raising what is allocated to that peak first (an
    // allocation that is never touched) makes the peak from here on this work's own.
    let ballast_size = ALLOCATOR
        .max_allocated()
        .saturating_sub(ALLOCATOR.allocated());
    let ballast = Vec::<u8>::with_capacity(ballast_size);
    let before = ALLOCATOR.allocated();
    assert_eq!(
        ALLOCATOR.max_allocated(),
        before,
        "the ballast did not reach the peak"
    );
    let result = work();
    let peak = ALLOCATOR.max_allocated() - before;
    drop(ballast);
    (result, peak)
}

/// An envelope of `count` items, allocated once at its exact size so that building it leaves no
/// peak behind.
fn body_of(count: usize, item: fn(&mut dyn std::fmt::Write, usize) -> std::fmt::Result) -> String {
    let write = |out: &mut dyn std::fmt::Write| -> std::fmt::Result {
        out.write_str(r##"{"@odata.type":"#microsoft.graph.commsNotifications","value":["##)?;
        for index in 0..count {
            if index > 0 {
                out.write_char(',')?;
            }
            item(out, index)?;
        }
        out.write_str("]}")
    };
    let mut length = Length(0);
    write(&mut length).unwrap();
    let mut body = String::with_capacity(length.0);
    write(&mut body).unwrap();
    assert_eq!(body.len(), body.capacity());
    body
}

/// The envelope of as many items as fit in `size` bytes (every item has the same length), and
/// their number.
fn body_filling(
    size: usize,
    item: fn(&mut dyn std::fmt::Write, usize) -> std::fmt::Result,
) -> (String, usize) {
    let mut item_length = Length(0);
    item(&mut item_length, 0).unwrap();
    let overhead = body_of(0, item).len();
    let count = (size - overhead + 1) / (item_length.0 + 1);
    let body = body_of(count, item);
    assert!(body.len() <= size && body.len() + item_length.0 >= size);
    (body, count)
}

fn minimal_incoming_call(out: &mut dyn std::fmt::Write, index: usize) -> std::fmt::Result {
    write!(
        out,
        r##"{{"changeType":"created","resourceUrl":"/communications/calls/{index:05}","resourceData":{{"@odata.type":"#microsoft.graph.call","state":"incoming"}}}}"##
    )
}

fn small_incoming_call(out: &mut dyn std::fmt::Write, index: usize) -> std::fmt::Result {
    write!(
        out,
        r##"{{"changeType":"created","resourceUrl":"/communications/calls/{index:08}","callbackUri":"https://bot.example.com/api/calls","resourceData":{{"@odata.type":"#microsoft.graph.call","state":"incoming","source":{{"identity":{{"phone":{{"id":"+15555550100"}}}},"region":"emea"}},"targets":[{{"identity":{{"applicationInstance":{{"id":"bot-instance"}}}}}}]}}}}"##
    )
}

fn documented_incoming_call(out: &mut dyn std::fmt::Write, index: usize) -> std::fmt::Result {
    write!(
        out,
        r##"{{"@odata.type":"#microsoft.graph.commsNotification","changeType":"created","resource":"/app/calls/{index:032X}","resourceUrl":"/communications/calls/{index:032X}","callbackUri":"https://bot.example.com/api/calls","resourceData":{{"@odata.type":"#microsoft.graph.call","@odata.id":"/communications/calls/{index:032X}","@odata.etag":"W/\"5445\"","state":"incoming","direction":"incoming","callbackUri":"https://bot.example.com/api/calls","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","myParticipantId":"5bf3a4b5-b2fd-4b63-ae10-a6aa3b1d0e1f","source":{{"identity":{{"user":{{"displayName":"Test User","id":"8A34A46B-3D17-4ADC-8DCE-DC4E7D572698","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47"}}}},"region":"westus","languageId":"en-US"}},"targets":[{{"identity":{{"application":{{"displayName":"Test BOT","id":"8A34A46B-3D17-4ADC-8DCE-DC4E7D572698"}}}}}}],"requestedModalities":["audio"]}}}}"##
    )
}

/// Counts what is written, without keeping it.
struct Length(usize);

impl std::fmt::Write for Length {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.0 += text.len();
        Ok(())
    }
}
