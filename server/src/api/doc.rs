//! What the OpenAPI document says the same way for every operation, applied once to the
//! whole document so that no handler's annotation can forget it: problem answers are
//! `application/problem+json`, 400 wherever a parameter or body can fail to parse, 413
//! and 415 wherever a body is taken; response schemas that extend a closed write schema
//! are written out whole, since an `allOf` of a closed schema and more properties admits no
//! object at all; a POST that creates a named resource requires `name`; and a merge-patch
//! body is described as one (any member may be null).

use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayItems, Object, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response};

/// The content type of every error answer (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

const MERGE_PATCH_JSON: &str = "application/merge-patch+json";

/// Bodies whose `name` is optional to replace a resource (it cannot change) but required
/// to create one: the schema a POST takes instead.
const CREATE_BODIES: [(&str, &str); 3] = [
    ("ClusterSpec", "NewClusterSpec"),
    ("DirectorSpec", "NewDirectorSpec"),
    ("RealServerHostSpec", "NewRealServerHostSpec"),
];

/// Applies the rules above to a document generated from the routes.
pub fn finish(openapi: &mut OpenApi) {
    require_names_to_create(openapi);
    describe_merge_patches(openapi);
    for item in openapi.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            document_problems(operation);
        }
    }
    if let Some(components) = openapi.components.as_mut() {
        let closed: Vec<(String, Object)> = components
            .schemas
            .iter()
            .filter_map(|(name, schema)| match schema {
                RefOr::T(Schema::Object(object)) if is_closed(object) => {
                    Some((name.clone(), object.clone()))
                }
                _ => None,
            })
            .collect();
        for schema in components.schemas.values_mut() {
            write_out_closed_extensions(schema, &closed);
        }
    }
}

fn require_names_to_create(openapi: &mut OpenApi) {
    let Some(components) = openapi.components.as_mut() else {
        return;
    };
    for (spec, new) in CREATE_BODIES {
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get(spec) else {
            continue;
        };
        let mut object = object.clone();
        if let Some(RefOr::T(Schema::Object(name))) = object.properties.get_mut("name") {
            name.schema_type = SchemaType::Type(Type::String);
        }
        object.required.push("name".to_owned());
        object.description = Some(format!("The body that creates one: `{spec}` with `name`."));
        components
            .schemas
            .insert(new.to_owned(), RefOr::T(Schema::Object(object)));
    }
    for item in openapi.paths.paths.values_mut() {
        let Some(body) = item
            .post
            .as_mut()
            .and_then(|post| post.request_body.as_mut())
        else {
            continue;
        };
        for content in body.content.values_mut() {
            let Some(RefOr::Ref(reference)) = &content.schema else {
                continue;
            };
            let name = reference.ref_location.rsplit('/').next().unwrap_or("");
            if let Some((_, new)) = CREATE_BODIES.iter().find(|(spec, _)| *spec == name) {
                content.schema = Some(RefOr::Ref(Ref::from_schema_name(*new)));
            }
        }
    }
}

/// A JSON merge patch of a closed schema: a member set to null is removed (back to its
/// default), so a member the schema does not have is still accepted as null, a no-op.
fn describe_merge_patches(openapi: &mut OpenApi) {
    let Some(components) = openapi.components.as_mut() else {
        return;
    };
    for item in openapi.paths.paths.values_mut() {
        let Some(body) = item
            .patch
            .as_mut()
            .and_then(|patch| patch.request_body.as_mut())
        else {
            continue;
        };
        let Some(content) = body.content.get_mut(MERGE_PATCH_JSON) else {
            continue;
        };
        let Some(RefOr::Ref(reference)) = &content.schema else {
            continue;
        };
        let name = reference
            .ref_location
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_owned();
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get(&name) else {
            continue;
        };
        let mut patch = object.clone();
        for property in patch.properties.values_mut() {
            make_nullable(property);
        }
        patch.additional_properties = Some(Box::new(AdditionalProperties::RefOr(null())));
        patch.description = Some(format!(
            "A JSON merge patch (RFC 7396) of `{name}`: members given replace the current \
             ones, members set to null go back to their defaults."
        ));
        let patch_name = format!("{name}MergePatch");
        components
            .schemas
            .insert(patch_name.clone(), RefOr::T(Schema::Object(patch)));
        content.schema = Some(RefOr::Ref(Ref::from_schema_name(patch_name)));
    }
}

fn null() -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new().schema_type(Type::Null).build(),
    ))
}

/// The same schema, also admitting null.
fn make_nullable(schema: &mut RefOr<Schema>) {
    let nullable = |schema_type: &SchemaType| match schema_type {
        SchemaType::Type(Type::Null) => schema_type.clone(),
        SchemaType::Type(other) => SchemaType::from_iter([other.clone(), Type::Null]),
        SchemaType::Array(types) if !types.contains(&Type::Null) => {
            types.iter().cloned().chain([Type::Null]).collect()
        }
        _ => schema_type.clone(),
    };
    match schema {
        RefOr::T(Schema::Object(object)) => {
            object.schema_type = nullable(&object.schema_type);
            if let Some(values) = object.enum_values.as_mut() {
                if !values.contains(&serde_json::Value::Null) {
                    values.push(serde_json::Value::Null);
                }
            }
        }
        RefOr::T(Schema::Array(array)) => array.schema_type = nullable(&array.schema_type),
        RefOr::T(Schema::OneOf(one_of)) => {
            if !one_of.items.iter().any(|item| *item == null()) {
                one_of.items.push(null());
            }
        }
        other => {
            let whole = std::mem::replace(other, null());
            *other = RefOr::T(Schema::OneOf(
                OneOfBuilder::new().item(null()).item(whole).build(),
            ));
        }
    }
}

fn document_problems(operation: &mut Operation) {
    let has_parameters = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let has_body = operation.request_body.is_some();
    let responses = &mut operation.responses.responses;
    let mut add = |status: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(Response::new("")));
    };
    if has_parameters || has_body {
        add("400");
    }
    if has_body {
        add("413");
        add("415");
    }
    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if !status.starts_with('4') && !status.starts_with('5') {
            continue;
        }
        if response.description.is_empty() {
            response.description = problem_description(status).to_owned();
        }
        response.content.shift_remove("application/json");
        response.content.insert(
            PROBLEM_JSON.to_owned(),
            Content::new(Some(Ref::from_schema_name("Problem"))),
        );
    }
}

/// What each error status means in this API (the `code` of the problem says more).
fn problem_description(status: &str) -> &'static str {
    match status {
        "400" => "A path or query parameter, a header or the JSON body cannot be read",
        "401" => "No valid agent token",
        "403" => "The agent token does not cover this",
        "404" => "It does not exist",
        "409" => "It conflicts with what exists",
        "412" => "`If-Match` does not match the current ETag",
        "413" => "The body exceeds the server's limit (`--max-body-bytes`)",
        "415" => "The body is not JSON",
        "422" => "Fields are invalid: `errors` names each with the reason",
        "503" => "Not ready",
        _ => "An error",
    }
}

/// Refuses properties it does not list (`additionalProperties: false`).
fn is_closed(object: &Object) -> bool {
    matches!(
        object.additional_properties.as_deref(),
        Some(AdditionalProperties::FreeForm(false))
    )
}

/// Writes out every closed `allOf` in `schema` and the schemas nested in it (a page's
/// items are inlined in it).
fn write_out_closed_extensions(schema: &mut RefOr<Schema>, closed: &[(String, Object)]) {
    if let Some(whole) = written_out(schema, closed) {
        *schema = RefOr::T(Schema::Object(whole));
    }
    let RefOr::T(inner) = schema else { return };
    let nested: Vec<&mut RefOr<Schema>> = match inner {
        Schema::Object(object) => object.properties.values_mut().collect(),
        Schema::Array(array) => match &mut array.items {
            ArrayItems::RefOrSchema(items) => vec![items.as_mut()],
            ArrayItems::False => Vec::new(),
        },
        Schema::OneOf(one_of) => one_of.items.iter_mut().collect(),
        Schema::AnyOf(any_of) => any_of.items.iter_mut().collect(),
        Schema::AllOf(all_of) => all_of.items.iter_mut().collect(),
        _ => Vec::new(),
    };
    for schema in nested {
        write_out_closed_extensions(schema, closed);
    }
}

/// An `allOf` of a reference to a closed schema and objects, as one object with all their
/// properties. It stays open: an answer may gain fields without breaking clients.
fn written_out(schema: &RefOr<Schema>, closed: &[(String, Object)]) -> Option<Object> {
    let RefOr::T(Schema::AllOf(all_of)) = schema else {
        return None;
    };
    let mut whole: Option<Object> = None;
    let mut extras = Vec::new();
    for item in &all_of.items {
        match item {
            RefOr::Ref(reference) => {
                let name = reference.ref_location.rsplit('/').next()?;
                let (_, base) = closed.iter().find(|(n, _)| n == name)?;
                if whole.replace(base.clone()).is_some() {
                    return None;
                }
            }
            RefOr::T(Schema::Object(object)) => extras.push(object),
            RefOr::T(_) => return None,
        }
    }
    let mut whole = whole?;
    for extra in extras {
        whole.properties.extend(extra.properties.clone());
        whole.required.extend(extra.required.iter().cloned());
    }
    whole.additional_properties = None;
    whole.description.clone_from(&all_of.description);
    whole.title.clone_from(&all_of.title);
    whole.example.clone_from(&all_of.example);
    Some(whole)
}
