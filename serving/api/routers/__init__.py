"""One router per resource: leads, score, queue, admin, health (+ metrics)."""
