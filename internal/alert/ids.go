package alert

// Stable MESSAGE_IDs, one per alert kind (documented in docs/alerts.md and
// the journald catalog).
var messageIDs = map[string]string{
	EventViolation:    "a6b1d24cd6354b9da51cf5496abbf65a",
	EventKill:         "9023a702035a4939b818549588f8be1c",
	EventDenied:       "6e13bc785436481f8c9c29dc70de1beb",
	EventLearned:      "2c5cad9690654b7a90cf0fbf67443aba",
	EventProfileError: "6ae6bfae0c5747eb95b27389011d715d",
	EventSinkOutage:   "eabe9dde52a142fd9fa0c0b30599db7e",
	EventExecSession:  "35c02202a03c4a8a83beeac749d18e96",
	EventEventsLost:   "92ea7ca3dd374da2b063e92a494bfaec",
	EventUnprotected:  "ca562c546c454dadb0ffa10ce7540f7f",
}

// MessageID returns the fixed MESSAGE_ID of an event kind.
func MessageID(event string) string {
	if id, ok := messageIDs[event]; ok {
		return id
	}
	return "1b77698b7cc84ceba674375efd65dbb9"
}

// MessageIDs returns every kind's MESSAGE_ID.
func MessageIDs() map[string]string {
	out := make(map[string]string, len(messageIDs))
	for k, v := range messageIDs {
		out[k] = v
	}
	return out
}
