"""Any OpenAI-compatible chat endpoint: the client the director, the chat model and the vision
critic share, and the mapping of its errors to dramaforge's."""
