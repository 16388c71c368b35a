"""LLM model components: tiny_llama, smollm2_135m, hf; materialize() turns each into a local folder."""
