// A stand-in for Pluggy's Connect widget (cdn.pluggy.ai/pluggy-connect),
// served by the fake Pluggy API at /connect/pluggy-connect.js. It honours
// the same contract:
//
//   new PluggyConnect({connectToken, includeSandbox, updateItem,
//                      onSuccess, onError, onClose}).init()
//
// It shows a login form for the sandbox bank (user-ok / password-ok), posts
// it to the fake with the connect token (the only credential it holds), and
// calls onSuccess({item}) with the created or updated item, onError({message})
// when the fake refuses, and onClose() when the user closes it.
(function () {
  "use strict";
  var script = document.currentScript;
  var api = script ? script.src.replace(/\/connect\/pluggy-connect\.js(\?.*)?$/, "") : "";

  function PluggyConnect(opts) {
    if (!opts || !opts.connectToken) {
      throw new Error("PluggyConnect: connectToken is required");
    }
    this.opts = opts;
  }

  PluggyConnect.prototype.init = function () {
    var o = this.opts;
    var box = document.createElement("div");
    box.id = "pluggy-connect";
    box.setAttribute("role", "dialog");
    box.style.cssText = "position:fixed;inset:10% 30%;background:#fff;border:1px solid #888;padding:1em;font-family:sans-serif";
    var title = o.updateItem ? "Update your connection (item " + o.updateItem + ")" : "Connect your bank";
    box.innerHTML =
      '<h2 id="pluggy-title"></h2>' +
      '<p>Pluggy Bank (sandbox' + (o.includeSandbox ? ", offered" : "") + ') — fake widget</p>' +
      '<label>User <input id="pluggy-user" value="user-ok"></label><br>' +
      '<label>Password <input id="pluggy-password" type="password" value="password-ok"></label><br>' +
      '<button id="pluggy-submit">Connect</button> <button id="pluggy-close">Close</button>' +
      '<p id="pluggy-message"></p>';
    document.body.appendChild(box);
    document.getElementById("pluggy-title").textContent = title;
    var msg = document.getElementById("pluggy-message");
    var done = false;
    document.getElementById("pluggy-close").onclick = function () {
      box.remove();
      if (o.onClose) o.onClose();
    };
    document.getElementById("pluggy-submit").onclick = function () {
      if (done) return;
      msg.textContent = "Connecting…";
      var body = {
        connectorId: 0,
        parameters: {
          user: document.getElementById("pluggy-user").value,
          password: document.getElementById("pluggy-password").value
        }
      };
      if (o.updateItem) body.itemId = o.updateItem;
      fetch(api + "/connect/items", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-API-KEY": o.connectToken },
        body: JSON.stringify(body)
      }).then(function (resp) {
        return resp.json().then(function (data) { return { ok: resp.ok, data: data }; });
      }).then(function (r) {
        if (!r.ok) {
          msg.textContent = "Error: " + r.data.message;
          if (o.onError) o.onError({ message: r.data.message, data: r.data });
          return;
        }
        done = true;
        msg.textContent = "Connected.";
        if (o.onSuccess) o.onSuccess({ item: r.data });
      }).catch(function (e) {
        msg.textContent = "Error: " + e;
        if (o.onError) o.onError({ message: String(e) });
      });
    };
  };

  window.PluggyConnect = PluggyConnect;
})();
