"""One router per page group: sign-in and home, the SDR queue, the lead page, the API docs."""
