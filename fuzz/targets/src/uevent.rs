//! `modinit::kernel::uevent::Uevent::parse` on any netlink message.
//!
//! A parsed event is rebuilt as the kernel would send it and must parse to the same event;
//! udev's re-broadcasts (`libudev\0` first) are never taken for kernel events.

use modinit::kernel::uevent::Uevent;

pub fn fuzz(data: &[u8]) {
    assert_eq!(Uevent::parse(&[b"libudev\0", data].concat()), None, "a udev message read as the kernel's");
    let Some(event) = Uevent::parse(data) else { return };
    let modalias = event.modalias.unwrap_or_default();
    for (part, what) in [(event.action, "ACTION"), (event.devpath, "DEVPATH"), (modalias, "MODALIAS")] {
        crate::assert_within(data, part, what);
        assert!(!part.contains(&0), "NUL in {what}");
    }
    assert!(!event.action.is_empty() && !event.action.contains(&b'@'));
    assert!(event.devpath.starts_with(b"/"));
    assert!(event.modalias.is_none_or(|m| !m.is_empty()));
    assert_eq!(event.added_modalias().is_some(), event.modalias.is_some() && event.action == b"add");

    let mut message = [event.action, b"@", event.devpath, b"\0"].concat();
    if let Some(modalias) = event.modalias {
        message.extend([b"MODALIAS=", modalias, b"\0"].concat());
    }
    if let Some(seqnum) = event.seqnum {
        message.extend(format!("SEQNUM={seqnum}\0").into_bytes());
    }
    assert_eq!(Uevent::parse(&message), Some(event), "rebuilt as {:?}", message.escape_ascii().to_string());
}
