//! The series book and note truncation.

use super::*;

#[test]
fn a_sentence_repeated_within_the_window_is_a_series_and_others_are_new_events() {
    let mut book = Book::new();
    let t0 = Instant::now();
    let name = |n: &str| {
        let n = n.to_owned();
        move || n
    };
    assert_eq!(
        book.publish(1, name("a"), t0),
        Publish::Create { name: "a".into() }
    );
    assert_eq!(
        book.publish(2, name("b"), t0),
        Publish::Create { name: "b".into() }
    );
    assert_eq!(
        book.publish(1, name("x"), t0 + Duration::from_secs(10)),
        Publish::Repeat {
            name: "a".into(),
            count: 2
        }
    );
    assert_eq!(
        book.publish(1, name("x"), t0 + Duration::from_secs(20)),
        Publish::Repeat {
            name: "a".into(),
            count: 3
        }
    );
    // Past the window: a new Event, and the forgotten ones are swept out.
    let later = t0 + SERIES_WINDOW + Duration::from_secs(21);
    assert_eq!(
        book.publish(1, name("c"), later),
        Publish::Create { name: "c".into() }
    );
    assert_eq!(book.series.len(), 1, "b was forgotten");
}

#[test]
fn a_forgotten_sentence_is_a_new_event_again() {
    let mut book = Book::new();
    let t0 = Instant::now();
    book.publish(1, || "a".into(), t0);
    book.forget(1);
    assert_eq!(
        book.publish(1, || "b".into(), t0 + Duration::from_secs(1)),
        Publish::Create { name: "b".into() }
    );
}

#[test]
fn long_notes_are_cut_on_a_char_boundary() {
    let text = "é".repeat(800);
    let cut = truncate(text, 1000);
    assert!(cut.len() <= 1000);
    assert!(cut.ends_with("..."));
    assert_eq!(truncate("short".into(), 1000), "short");
}
