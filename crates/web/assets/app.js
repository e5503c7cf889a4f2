// upsight's only script, served from /assets (the Content-Security-Policy forbids inline
// script). It adds what server-rendered pages cannot do alone: autosave with per-field push
// state, live sync progress, live Pending Changes, the dialogs, and local times.
//
// Every state-changing request sends the page's CSRF token in X-CSRF-Token; the browser adds
// the Origin header the server also checks. Salesforce data only ever arrives as JSON text
// (set with textContent) or as HTML fragments the server rendered with escaping.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  // ------------------------------------------------------------------ helpers

  // Browsers let a page that is going away finish `keepalive` requests of up to 64 KiB in
  // all (the Fetch Standard's keepalive quota); an edit under this size is sent that way,
  // so a reload or a closed tab does not cancel it.
  const KEEPALIVE_BYTES = 60000;
  const byteLength = (text) => new TextEncoder().encode(text).length;
  async function api(method, url, body) {
    const options = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (method !== "GET") {
      options.headers["X-CSRF-Token"] = csrf;
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
      options.keepalive = byteLength(options.body) < KEEPALIVE_BYTES;
    }
    let response;
    try {
      response = await fetch(url, options);
    } catch (e) {
      return { ok: false, status: 0, data: { error: "upsight is not answering. Is it still running?" } };
    }
    let data = {};
    try { data = await response.json(); } catch (e) { data = { error: "Unexpected answer (" + response.status + ")." }; }
    return { ok: response.ok, status: response.status, data };
  }

  async function fragment(url) {
    try {
      const response = await fetch(url, { headers: { "Accept": "text/html" }, credentials: "same-origin" });
      return response.ok ? await response.text() : null;
    } catch (e) {
      return null;
    }
  }

  function debounce(fn, ms) {
    let timer = null;
    const wrapped = (...args) => { clearTimeout(timer); timer = setTimeout(() => { timer = null; fn(...args); }, ms); };
    wrapped.flush = (...args) => { if (timer) { clearTimeout(timer); timer = null; fn(...args); } };
    return wrapped;
  }

  // A "Details" toggle under a message: Salesforce's code and raw text, kept out of the
  // sentence the user reads first. Built from text nodes only.
  function detailsToggle(details) {
    const box = document.createElement("details");
    box.className = "error-details";
    const summary = document.createElement("summary");
    summary.textContent = "Details";
    const pre = document.createElement("pre");
    pre.textContent = details;
    box.append(summary, pre);
    return box;
  }

  let toastTimer = null;
  function toast(message, bad, details) {
    const el = document.getElementById("toast");
    if (!el) return;
    el.textContent = message;
    if (details) el.appendChild(detailsToggle(details));
    el.className = "toast show" + (bad ? " bad" : "");
    clearTimeout(toastTimer);
    // Longer when there is more to read; kept while the pointer is on it.
    const hide = () => { el.className = "toast"; };
    const wait = details ? 15000 : bad ? 8000 : 3500;
    toastTimer = setTimeout(hide, wait);
    el.onmouseenter = () => clearTimeout(toastTimer);
    el.onmouseleave = () => { toastTimer = setTimeout(hide, 3000); };
  }

  function localTime(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return null;
    const seconds = (Date.now() - d.getTime()) / 1000;
    if (seconds < 45) return "just now";
    if (seconds < 3600) return Math.round(seconds / 60) + " min ago";
    const sameDay = new Date().toDateString() === d.toDateString();
    const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (sameDay) return "today " + time;
    return d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + time;
  }

  function renderTimes(root) {
    (root || document).querySelectorAll("[data-time]").forEach((el) => {
      const text = localTime(el.dataset.time);
      if (text) { el.textContent = text; el.title = new Date(el.dataset.time).toLocaleString(); }
    });
  }

  // Set while the page is on its way to another one (an account being added opens its
  // page when the add answers): the list must not reload itself under that navigation,
  // which would cancel it and leave the user on the list.
  let navigating = 0;
  function isEditing() {
    if (navigating > 0) return true;
    const a = document.activeElement;
    return a && (a.tagName === "TEXTAREA" || a.tagName === "INPUT" || a.tagName === "SELECT") &&
      a.closest("[data-edit], dialog");
  }

  // ------------------------------------------------------------------ dialogs

  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-open]");
    if (opener) {
      const dialog = document.getElementById(opener.dataset.open);
      if (dialog) { dialog.showModal(); dialog.querySelector("[autofocus]")?.focus(); }
    }
    if (event.target.closest("[data-close]")) event.target.closest("dialog")?.close();
  });

  function showFormError(el, message) {
    const slot = el.querySelector(".form-error") || el.closest("section,form,dialog")?.querySelector(".form-error");
    if (slot) slot.textContent = message || "";
  }

  // ------------------------------------------------------------------ sidebar: sync and counts

  const syncButton = document.getElementById("sync-button");
  const syncState = document.getElementById("sync-state");
  const syncBar = document.getElementById("sync-progress");
  let syncWasRunning = false;
  let statusTimer = null;

  function setCount(id, n) {
    const el = document.getElementById(id);
    if (el) el.textContent = String(n);
  }

  // Edits waiting are always in view: when the next push goes (or that one is going), a
  // Push now button, and a banner naming the fix while pushes cannot get through.
  function showPushState(s) {
    const blocked = s.pending > 0 ? (s.push_blocked ? s.push_blocked.said : s.push_paused) : null;
    const banner = document.getElementById("push-banner");
    if (banner) {
      banner.hidden = !blocked;
      banner.dataset.reason = blocked ? (s.push_blocked ? s.push_blocked.reason : "budget") : "";
      if (blocked && banner.dataset.said !== blocked) {
        banner.dataset.said = blocked;
        banner.textContent = blocked + " ";
        const now = document.createElement("button");
        now.type = "button";
        now.className = "small";
        now.dataset.pushNow = "";
        now.textContent = "Push now";
        banner.appendChild(now);
      }
    }
    const line = document.getElementById("push-line");
    const when = document.getElementById("push-when");
    if (line && when) {
      line.hidden = s.pending === 0;
      when.textContent = s.pushing ? "Pushing…"
        : blocked ? "Waiting to push"
        : s.push_due_in_ms != null ? "Next push in " + Math.max(1, Math.ceil(s.push_due_in_ms / 1000)) + " s"
        : "Waiting to push";
    }
  }

  function applyStatus(s) {
    const usage = document.getElementById("api-usage");
    if (usage && s.budget_html !== undefined && usage.innerHTML !== s.budget_html) {
      usage.innerHTML = s.budget_html; // rendered and escaped by the server
    }
    setCount("pending-count", s.pending);
    setCount("failed-count", s.failed);
    setCount("conflict-count", s.conflicts);
    const open = document.getElementById("nav-open-count");
    if (open) {
      const total = s.pending + s.failed + s.conflicts;
      open.textContent = String(total);
      open.classList.toggle("zero", total === 0);
      open.classList.toggle("failed", s.failed + s.conflicts > 0);
    }
    const sync = s.sync || {};
    if (sync.running) {
      syncWasRunning = true;
      if (syncButton) { syncButton.disabled = true; syncButton.textContent = "Syncing…"; }
      if (syncState) {
        let text = sync.phase || "Starting";
        if (sync.total) text += " " + sync.done + " of " + sync.total;
        syncState.textContent = text;
      }
      if (syncBar) {
        syncBar.hidden = false;
        const pct = sync.total ? Math.round((100 * sync.done) / sync.total) : 5;
        syncBar.firstElementChild.style.width = Math.max(5, pct) + "%";
      }
    } else {
      if (syncButton) { syncButton.disabled = false; syncButton.textContent = "Sync"; }
      if (syncBar) syncBar.hidden = true;
      if (syncState && s.last_sync_html !== undefined) {
        syncState.innerHTML = s.last_sync_html; // rendered and escaped by the server
        renderTimes(syncState);
      }
      if (syncWasRunning) {
        syncWasRunning = false;
        if (sync.error) toast(sync.error, true, sync.error_details);
        else if (document.querySelector("[data-refresh-on-sync]") && !isEditing()) location.reload();
      }
    }
    showPushState(s);
    document.dispatchEvent(new CustomEvent("upsight:status", { detail: s }));
  }

  async function pollStatus() {
    clearTimeout(statusTimer);
    const r = await api("GET", "/api/status");
    if (r.ok) applyStatus(r.data);
    const fast = syncWasRunning || (r.ok && r.data.pending > 0);
    statusTimer = setTimeout(pollStatus, fast ? 600 : 3000);
  }

  // Push now (shown while background pushes are paused for the API budget): asking is what
  // the pause waits for.
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-push-now]");
    if (!button) return;
    button.disabled = true;
    const r = await api("POST", "/api/push", {});
    if (!r.ok) { toast(r.data.error || "The push could not start.", true, r.data.details); button.disabled = false; return; }
    button.disabled = false;
    toast(r.data.message, r.data.bad, r.data.details);
    if (r.data.status) applyStatus(r.data.status);
  });

  if (syncButton) {
    syncButton.addEventListener("click", async () => {
      syncButton.disabled = true;
      const r = await api("POST", "/api/sync", {});
      if (!r.ok) { toast(r.data.error || "Sync could not start.", true, r.data.details); syncButton.disabled = false; return; }
      syncWasRunning = true;
      applyStatus(r.data);
      pollStatus();
    });
    pollStatus();
  }

  // ------------------------------------------------------------------ accounts list

  const listSearch = document.querySelector("form[data-autosubmit]");
  if (listSearch) {
    const submit = debounce(() => listSearch.requestSubmit(), 350);
    listSearch.querySelectorAll("input[type=search]").forEach((input) => {
      input.addEventListener("input", submit);
      if (input.value) { input.focus(); input.setSelectionRange(input.value.length, input.value.length); }
    });
    listSearch.querySelectorAll("select").forEach((s) => s.addEventListener("change", () => listSearch.requestSubmit()));
  }

  // ------------------------------------------------------------------ new account dialog

  const sfSearch = document.getElementById("sf-search");
  const sfResults = document.getElementById("sf-results");
  if (sfSearch && sfResults) {
    let generation = 0;
    const run = debounce(async () => {
      const q = sfSearch.value.trim();
      const mine = ++generation;
      if (q.length < 2) { sfResults.innerHTML = ""; return; }
      sfResults.textContent = "Searching Salesforce…";
      const html = await fragment("/accounts/search?q=" + encodeURIComponent(q));
      if (mine !== generation) return;
      sfResults.innerHTML = html === null ? "" : html; // server-rendered, escaped
      if (html === null) sfResults.textContent = "The search failed. Check Settings > Salesforce CLI.";
    }, 400);
    sfSearch.addEventListener("input", run);
  }

  async function addAccount(sfId, from) {
    showFormError(from, "");
    from.disabled = true;
    const label = from.textContent;
    from.textContent = "Adding…";
    navigating++;
    const r = await api("POST", "/api/accounts/add", { sf_id: sfId });
    if (r.ok) { location.href = r.data.url; return; }
    navigating--;
    from.disabled = false;
    from.textContent = label;
    showFormError(from, r.data.error);
  }

  document.addEventListener("click", (event) => {
    const add = event.target.closest("[data-add-sf-id]");
    if (add) addAccount(add.dataset.addSfId, add);
  });

  const byId = document.getElementById("add-by-id");
  if (byId) {
    byId.addEventListener("submit", (event) => {
      event.preventDefault();
      addAccount(byId.elements.sf_id.value.trim(), byId.querySelector("button"));
    });
  }

  const newLocal = document.getElementById("new-local");
  if (newLocal) {
    newLocal.addEventListener("submit", async (event) => {
      event.preventDefault();
      showFormError(newLocal, "");
      const r = await api("POST", "/api/accounts", { name: newLocal.elements.name.value });
      if (r.ok) location.href = r.data.url;
      else showFormError(newLocal, r.data.error);
    });
  }

  // ------------------------------------------------------------------ account detail: autosave

  const stateLabels = {
    saving: "Saving…",
    saved: "Saved locally",
    pending: "Pending push",
    pushed: "Pushed to Salesforce",
  };

  function setFieldState(key, st) {
    const el = document.querySelector('.field-state[data-for="' + CSS.escape(key) + '"]');
    if (!el) return;
    el.className = "field-state " + (st ? st.status : "");
    el.textContent = "";
    if (!st) return;
    if (st.status === "failed") {
      el.textContent = "Push failed: " + (st.message || "Salesforce refused the value") + " ";
      const a = document.createElement("a");
      a.href = "/changes?status=failed";
      a.textContent = "Retry or revert";
      el.appendChild(a);
      if (st.details) el.appendChild(detailsToggle(st.details));
    } else if (st.status === "conflict") {
      el.textContent = "Conflict: Salesforce now has “" + (st.theirs || "") + "”, yours is “" + (st.mine || "") + "”. ";
      const a = document.createElement("a");
      a.href = "/changes?status=conflict";
      a.textContent = "Resolve";
      el.appendChild(a);
    } else if (st.status === "invalid" || st.status === "held") {
      el.textContent = st.message;
    } else {
      el.textContent = stateLabels[st.status] || "";
    }
  }

  function colour(el) {
    if (!el.classList.contains("health")) return;
    el.classList.remove("green", "yellow", "red");
    const tone = el.selectedOptions[0]?.dataset.tone;
    if (tone) el.classList.add(tone);
    const card = el.closest(".indicator");
    if (card) { card.classList.remove("green", "yellow", "red"); if (tone) card.classList.add(tone); }
  }

  // A multi-select picklist is a fieldset of checkboxes: its value is the checked ones,
  // joined by ";" as Salesforce stores them.
  function valueOf(el) {
    if (el.dataset.multi !== undefined) {
      return Array.from(el.querySelectorAll("input[type=checkbox]:checked"))
        .filter((box) => !box.closest("label").hidden)
        .map((box) => box.value)
        .join(";");
    }
    return el.value;
  }

  // A dependent picklist offers only the values its controlling field's current value
  // allows (each option lists them in data-valid-for); the server checks the same rule.
  function controllerOf(dependent) {
    return document.querySelector(
      '[data-edit][data-record="' + CSS.escape(dependent.dataset.record) + '"][data-field="' +
        CSS.escape(dependent.dataset.controller) + '"]');
  }
  // The field's name as the page shows it: its label, or its indicator card's title.
  function fieldName(el) {
    const label = el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]');
    if (label) return label.textContent.trim();
    const title = el.closest(".indicator")?.querySelector(".title");
    return title ? title.textContent.trim() : el.dataset.field;
  }
  function filterDependent(dependent) {
    const controller = controllerOf(dependent);
    if (!controller) return;
    const current = valueOf(controller);
    const multi = dependent.dataset.multi !== undefined;
    const items = multi
      ? dependent.querySelectorAll("label[data-valid-for]")
      : dependent.querySelectorAll("option[data-valid-for]");
    const held = [];
    items.forEach((item) => {
      let allowed = [];
      try { allowed = JSON.parse(item.dataset.validFor); } catch (e) { allowed = []; }
      const ok = allowed.includes(current);
      item.hidden = !ok;
      if (item.tagName === "OPTION") item.disabled = !ok;
      const chosen = multi ? item.querySelector("input")?.checked : item.selected;
      if (chosen && !ok) held.push(multi ? item.querySelector("input").value : item.value);
    });
    // What the field holds may not go with the controller's new value: say so next to it,
    // naming both, rather than leave a value Salesforce would not pair with it.
    const key = dependent.dataset.edit;
    if (held.length && current !== "") {
      dependent.dataset.mismatch = "";
      setFieldState(key, {
        status: "invalid",
        message: held.join(", ") + (held.length > 1 ? " are" : " is") + " not offered while " +
          fieldName(controller) + " is " + current + ": pick another value here.",
      });
    } else if (dependent.dataset.mismatch !== undefined) {
      delete dependent.dataset.mismatch;
      setFieldState(key, null);
    }
  }
  function filterDependentsOf(controller) {
    document.querySelectorAll(
      '[data-controller="' + CSS.escape(controller.dataset.field) + '"][data-record="' +
        CSS.escape(controller.dataset.record) + '"]').forEach(filterDependent);
  }

  // The summary strip shows some of the fields the page edits: when one of them is saved,
  // the strip is fetched again (server-rendered, escaped), so it never shows the old value.
  async function refreshSummary(field) {
    const strip = document.getElementById("account-summary");
    if (!strip || !strip.dataset.fields.split(" ").includes(field)) return;
    const html = await fragment(strip.dataset.summaryUrl);
    const current = document.getElementById("account-summary");
    if (html !== null && current) current.outerHTML = html;
  }

  let fieldsWatched = false;
  // Saves that a page going away could cancel: too large for a keepalive request.
  let unsafeSaves = 0;
  async function save(el) {
    const key = el.dataset.edit;
    const value = valueOf(el);
    if (el.dataset.sent === value) return;
    el.dataset.sent = value;
    setFieldState(key, { status: "saving" });
    const body = { record: el.dataset.record, field: el.dataset.field, value: value };
    const unsafe = byteLength(JSON.stringify(body)) >= KEEPALIVE_BYTES;
    if (unsafe) unsafeSaves++;
    const r = await api("POST", "/api/edit", body);
    if (unsafe) unsafeSaves--;
    if (r.ok) {
      setFieldState(key, r.data.state || null);
      refreshSummary(el.dataset.field);
      watchFields();
    } else {
      delete el.dataset.sent;
      setFieldState(key, { status: "invalid", message: r.data.error || "Not saved." });
    }
  }

  // A text area is as tall as its text, so a long note is read without an inner scrollbar
  // and nothing is cut off; it grows as the user types and when the width changes.
  const fit = (area) => {
    area.style.height = "auto";
    area.style.height = area.scrollHeight + (area.offsetHeight - area.clientHeight) + "px";
  };
  const areas = [...document.querySelectorAll("textarea")];
  areas.forEach((area) => { fit(area); area.addEventListener("input", () => fit(area)); });
  let lastWidth = window.innerWidth;
  window.addEventListener("resize", debounce(() => {
    if (window.innerWidth === lastWidth) return;
    lastWidth = window.innerWidth;
    areas.forEach(fit);
  }, 100));

  // A date is typed a segment at a time, and Chrome fires `change` whenever the segments
  // make any date ("0002-01-15" on the way to 2027): a date is saved when the user leaves
  // it or presses Enter, never while it is being typed.
  const typedDate = (el) => el.type === "date" || el.type === "datetime-local";
  const editors = [...document.querySelectorAll("[data-edit]")];
  editors.forEach((el) => {
    el.dataset.sent = valueOf(el);
    const later = debounce(() => save(el), 600);
    if (el.dataset.controller) filterDependent(el);
    if (typedDate(el)) {
      // Focus as its own events say: Chrome's `document.activeElement` leaves the field
      // for a moment as a segment fills.
      let typing = false;
      el.addEventListener("focus", () => { typing = true; });
      el.addEventListener("change", () => { if (!typing) save(el); });
      el.addEventListener("blur", () => { typing = false; save(el); });
      el.addEventListener("keydown", (event) => { if (event.key === "Enter") save(el); });
    } else if (el.tagName === "SELECT" || el.tagName === "FIELDSET") {
      el.addEventListener("change", () => {
        if (el.dataset.controller) filterDependent(el);
        colour(el);
        filterDependentsOf(el);
        save(el);
      });
    } else {
      el.addEventListener("input", later);
      el.addEventListener("blur", () => later.flush());
    }
  });
  // What was typed is sent when the page goes away (a reload, a closed tab, another app in
  // front), not only after the typing pause; keepalive requests outlive the page.
  const unsaved = () => editors.filter((el) => el.dataset.sent !== valueOf(el));
  const flushEdits = () => unsaved().forEach((el) => save(el));
  window.addEventListener("pagehide", flushEdits);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") flushEdits();
  });
  // A save too large for keepalive could still be cut off: the browser asks before leaving.
  window.addEventListener("beforeunload", (event) => {
    flushEdits();
    if (unsafeSaves > 0) event.preventDefault();
  });

  const detail = document.querySelector("[data-states-url]");
  let fieldTimer = null;
  async function pollFields() {
    clearTimeout(fieldTimer);
    const r = await api("GET", detail.dataset.statesUrl);
    let busy = false;
    if (r.ok) {
      document.querySelectorAll(".field-state[data-for]").forEach((el) => {
        const st = r.data.fields[el.dataset.for];
        if (el.classList.contains("saving") || el.classList.contains("invalid")) return;
        setFieldState(el.dataset.for, st || null);
        if (st && (st.status === "saved" || st.status === "pending")) busy = true;
      });
    }
    fieldTimer = setTimeout(pollFields, busy ? 800 : 4000);
  }
  function watchFields() {
    if (!detail) return;
    fieldsWatched = true;
    clearTimeout(fieldTimer);
    fieldTimer = setTimeout(pollFields, 300);
  }
  if (detail) watchFields();

  // Account Setup: link and single-account sync.
  const linkForm = document.getElementById("link-form");
  if (linkForm) {
    linkForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      showFormError(linkForm, "");
      const button = linkForm.querySelector("button[type=submit]");
      button.disabled = true;
      const r = await api("POST", linkForm.dataset.url, { sf_id: linkForm.elements.sf_id.value.trim() });
      button.disabled = false;
      if (r.ok) location.reload();
      else showFormError(linkForm, r.data.error);
    });
  }
  const follow = document.getElementById("follow-merge");
  if (follow) {
    follow.addEventListener("click", async () => {
      follow.disabled = true;
      follow.textContent = "Following…";
      const r = await api("POST", follow.dataset.followUrl, {});
      if (r.ok) { toast(r.data.message || "Following the merge."); setTimeout(() => location.reload(), 400); }
      else { follow.disabled = false; follow.textContent = "Follow the merge"; toast(r.data.error, true, r.data.details); }
    });
  }
  document.querySelectorAll("[data-sync-account]").forEach((button) => {
    button.addEventListener("click", async () => {
      button.disabled = true;
      const label = button.textContent;
      button.textContent = "Syncing…";
      const r = await api("POST", button.dataset.syncAccount, {});
      button.disabled = false;
      button.textContent = label;
      if (r.ok) { toast(r.data.message || "Synced."); setTimeout(() => location.reload(), 400); }
      else { showFormError(button, r.data.error); toast(r.data.error, true, r.data.details); }
    });
  });

  // ------------------------------------------------------------------ pending changes

  const changes = document.getElementById("changes-body");
  if (changes) {
    let changeTimer = null;
    const refresh = async () => {
      clearTimeout(changeTimer);
      const html = await fragment("/changes/rows" + location.search);
      if (html !== null && !changes.contains(document.activeElement)) {
        changes.innerHTML = html; // server-rendered, escaped
        renderTimes(changes);
      }
      changeTimer = setTimeout(refresh, 1500);
    };
    changeTimer = setTimeout(refresh, 1500);
    document.addEventListener("click", async (event) => {
      const button = event.target.closest("[data-action]");
      if (!button) return;
      button.disabled = true;
      const r = await api("POST", button.dataset.action, {});
      if (!r.ok) toast(r.data.error || "That did not work.", true, r.data.details);
      else if (r.data.message) toast(r.data.message, r.data.bad);
      await refresh();
      pollStatus();
    });
  }

  // ------------------------------------------------------------------ settings

  const sfStatus = document.getElementById("sf-status");
  if (sfStatus && sfStatus.dataset.url) {
    // The org picker arrives with the status (both come from `sf org list`); it is moved
    // into the form. A choice the user already made in it survives a newer list.
    let chosen = null;
    const placePicker = () => {
      const picker = document.getElementById("org-picker");
      const select = sfStatus.querySelector("#org-picker-source select");
      if (picker && select) {
        if (chosen !== null && [...select.options].some((o) => o.value === chosen)) select.value = chosen;
        select.addEventListener("change", () => { chosen = select.value; });
        picker.replaceChildren(select);
      } else if (picker) {
        picker.textContent = "sf's default org (no org list available)";
      }
    };
    // The page shows the last check at once; a fresh one replaces it when sf answers.
    if (sfStatus.querySelector("#sf-state")) placePicker();
    fragment(sfStatus.dataset.url).then((html) => {
      if (html === null) {
        const again = sfStatus.querySelector("#sf-rechecking");
        if (again) again.textContent = " · could not check again";
        else sfStatus.textContent = "Could not read the status.";
        return;
      }
      sfStatus.innerHTML = html; // escaped by the server
      placePicker();
      renderTimes(sfStatus);
    });
  }
  const sfPathChoice = document.getElementById("sf_path_choice");
  const customPath = document.getElementById("custom-path-row");
  if (sfPathChoice && customPath) {
    const sync = () => { customPath.hidden = sfPathChoice.value !== "custom"; };
    sfPathChoice.addEventListener("change", sync);
    sync();
  }

  renderTimes(document);
})();
