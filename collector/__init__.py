"""The collector: takes events from browsers and servers, validates and enriches them, queues them."""
