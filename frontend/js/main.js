// The page's one module entry (index.html loads it). It stays at js/main.js, the address the page has
// always loaded and the one the service's header test fetches (tests/test_hardening.py), and only boots
// the app: what the page is made of starts in app.js, which can be imported without starting anything.

import { boot } from "./app.js";

boot();
