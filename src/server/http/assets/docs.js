// Renders this server's /openapi.json as a readable reference, offline.
"use strict";

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

// Follows a local "$ref" into components.
function resolve(doc, schema) {
  if (schema && typeof schema.$ref === "string") {
    const name = schema.$ref.split("/").pop();
    return { name, schema: doc.components.schemas[name] };
  }
  return { name: null, schema };
}

function schemaText(doc, schema, depth) {
  const { name, schema: body } = resolve(doc, schema);
  if (name && depth > 0) return name;
  return JSON.stringify(body, (key, value) => {
    if (value && typeof value.$ref === "string") return value.$ref.split("/").pop();
    return value;
  }, 2);
}

function renderOperation(doc, path, method, op) {
  const card = el("section", undefined, "card op");
  const title = el("h2");
  title.appendChild(el("span", method.toUpperCase(), "method " + method));
  title.appendChild(document.createTextNode(" "));
  title.appendChild(el("span", path, "path"));
  card.appendChild(title);
  card.appendChild(el("p", op.summary || ""));

  if (op.parameters && op.parameters.length > 0) {
    const table = el("table");
    const head = el("tr");
    for (const h of ["Parameter", "In", "Description"]) head.appendChild(el("th", h));
    table.appendChild(head);
    for (const p of op.parameters) {
      const row = el("tr");
      row.appendChild(el("td", p.name + (p.required ? " *" : ""), "path"));
      row.appendChild(el("td", p.in));
      row.appendChild(el("td", p.description || ""));
      table.appendChild(row);
    }
    card.appendChild(table);
  }

  const body = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
  if (body) {
    card.appendChild(el("h3", "Request body"));
    card.appendChild(el("pre", schemaText(doc, body.schema, 0)));
  }

  const table = el("table");
  const head = el("tr");
  for (const h of ["Status", "Meaning", "Body"]) head.appendChild(el("th", h));
  table.appendChild(head);
  for (const [status, response] of Object.entries(op.responses || {})) {
    const row = el("tr");
    row.appendChild(el("td", status));
    row.appendChild(el("td", response.description || ""));
    const content = response.content || {};
    const type = Object.keys(content)[0];
    row.appendChild(el("td", type ? `${type}: ${schemaText(doc, content[type].schema, 1)}` : ""));
    table.appendChild(row);
  }
  card.appendChild(table);
  return card;
}

async function render() {
  let doc;
  try {
    const response = await fetch("/openapi.json");
    doc = await response.json();
  } catch (e) {
    document.getElementById("docs-error").textContent = "Cannot load /openapi.json: " + e.message;
    return;
  }
  document.title = doc.info.title;
  document.getElementById("docs-intro").textContent =
    `${doc.info.title} ${doc.info.version} (OpenAPI ${doc.openapi}). ${doc.info.description}`;
  const root = document.getElementById("docs");
  // The API first, then the pages.
  const paths = Object.entries(doc.paths).sort(
    ([a], [b]) => Number(!a.startsWith("/v1/")) - Number(!b.startsWith("/v1/")),
  );
  for (const [path, item] of paths) {
    for (const [method, op] of Object.entries(item)) {
      root.appendChild(renderOperation(doc, path, method, op));
    }
  }
  const schemas = el("section", undefined, "card op");
  schemas.appendChild(el("h2", "Schemas"));
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    schemas.appendChild(el("h3", name));
    schemas.appendChild(el("pre", schemaText(doc, schema, 0)));
  }
  root.appendChild(schemas);
}

render();
