//! Table definitions shared by both backends (only SQL types both dialects map alike).

diesel::table! {
    accounts (id) {
        id -> Text,
        email -> Text,
        display_name -> Text,
        password_hash -> Text,
        role -> Text,
        email_verified_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        account_id -> Text,
        device_name -> Nullable<Text>,
        refresh_token_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    spent_refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Text,
        spent_at -> Timestamp,
    }
}

diesel::table! {
    email_tokens (token_hash) {
        token_hash -> Text,
        account_id -> Text,
        purpose -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        private_key -> Text,
        public_key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    login_throttle (email) {
        email -> Text,
        failures -> Integer,
        last_failure_at -> Timestamp,
        blocked_until -> Nullable<Timestamp>,
    }
}

diesel::joinable!(sessions -> accounts (account_id));
diesel::joinable!(spent_refresh_tokens -> sessions (session_id));
diesel::joinable!(email_tokens -> accounts (account_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    sessions,
    spent_refresh_tokens,
    email_tokens,
    signing_keys,
    login_throttle,
);

diesel::table! {
    categories (code) {
        code -> Text,
        name -> Text,
        description -> Text,
        group_name -> Text,
        keywords -> Text,
        handled_by -> Text,
        safety_notes -> Text,
        active -> Bool,
        questions -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    issues (id) {
        id -> Text,
        category_code -> Text,
        title -> Text,
        description -> Text,
        lat -> Double,
        lon -> Double,
        address -> Nullable<Text>,
        answers -> Text,
        status -> Text,
        reporter_id -> Nullable<Text>,
        anonymous -> Bool,
        duplicate_of -> Nullable<Text>,
        support_count -> Integer,
        follower_count -> Integer,
        photo_count -> Integer,
        closed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    issue_supports (issue_id, account_id) {
        issue_id -> Text,
        account_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    issue_follows (issue_id, account_id) {
        issue_id -> Text,
        account_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    issue_events (id) {
        id -> Text,
        issue_id -> Text,
        kind -> Text,
        actor_id -> Nullable<Text>,
        actor_role -> Nullable<Text>,
        from_status -> Nullable<Text>,
        to_status -> Nullable<Text>,
        body -> Nullable<Text>,
        data -> Nullable<Text>,
        deleted_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    issue_photos (id) {
        id -> Text,
        issue_id -> Text,
        uploader_id -> Nullable<Text>,
        width -> Integer,
        height -> Integer,
        byte_size -> BigInt,
        thumb_width -> Integer,
        thumb_height -> Integer,
        created_at -> Timestamp,
    }
}

diesel::joinable!(issues -> categories (category_code));
diesel::joinable!(issue_events -> issues (issue_id));
diesel::joinable!(issue_photos -> issues (issue_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    categories,
    issues,
    issue_supports,
    issue_follows,
    issue_events,
    issue_photos,
);
