package alert

// Stable MESSAGE_IDs, one per alert kind (documented in docs/alerts.md and
// the journald catalog).
var messageIDs = map[string]string{
	EventViolation:    "6c1c7f3e0f3a4b5e9d1a2b3c4d5e6f01",
	EventKill:         "6c1c7f3e0f3a4b5e9d1a2b3c4d5e6f02",
	EventDenied:       "6c1c7f3e0f3a4b5e9d1a2b3c4d5e6f03",
	EventLearned:      "6c1c7f3e0f3a4b5e9d1a2b3c4d5e6f04",
	EventProfileError: "6c1c7f3e0f3a4b5e9d1a2b3c4d5e6f05",
	EventSinkOutage:   "6c1c7f3e0f3a4b5e9d1a2b3c4d5e6f06",
	EventExecSession:  "6c1c7f3e0f3a4b5e9d1a2b3c4d5e6f18",
	EventUnprotected:  "6c1c7f3e0f3a4b5e9d1a2b3c4d5e6f07",
}

// MessageID returns the fixed MESSAGE_ID of an event kind.
func MessageID(event string) string {
	if id, ok := messageIDs[event]; ok {
		return id
	}
	return "6c1c7f3e0f3a4b5e9d1a2b3c4d5e6f00"
}

// MessageIDs returns every kind's MESSAGE_ID.
func MessageIDs() map[string]string {
	out := make(map[string]string, len(messageIDs))
	for k, v := range messageIDs {
		out[k] = v
	}
	return out
}
