# The benchmark scripts' sign-in, posted as the sign-in form posts it; sourced by run.sh
# and pgo-train.sh. The password is the demo data's (`switchboard seed`).
DEMO_PASSWORD=switchboard-demo-password

sign_in_curl() { # email base [curl options and URLs...]
  local email=$1 base=$2
  shift 2
  curl -s -H "Origin: $base" -H 'Accept: application/json' \
    --data-urlencode "email=$email" --data-urlencode "password=$DEMO_PASSWORD" "$@"
}

session_cookie() { # cookie jar -> the session's Cookie header value
  awk '$6 == "switchboard_session" { print "switchboard_session=" $7 }' "$1"
}
